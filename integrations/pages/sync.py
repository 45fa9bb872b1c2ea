"""Everyday sync on the integration page: a person's decision on a held wave of changes, and
the retry of changes the channel refused (integrations/sync/)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from integrations.models import Integration
from integrations.pages.access import layout_url, resync_permission_required
from integrations.sync import dispatch, guard


@require_POST
@login_required
@resync_permission_required
def sync_wave(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    confirm = request.POST.get("decision") == "confirm"
    wave = guard.decide_wave(integration.pk, confirm=confirm, by=request.user.get_username())
    if wave is None:
        messages.info(request, _("No wave of changes is held."))
    elif confirm:
        messages.success(request, _("Confirmed: the held changes are being sent."))
    else:
        messages.success(request, _("Discarded: the held stock and price changes were dropped."))
    return redirect(layout_url(request, "integration_edit", pk))


@require_POST
@login_required
@resync_permission_required
def sync_retry(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    count = dispatch.retry_refused(integration.pk)
    messages.success(
        request,
        ngettext(
            "%(count)s refused change will be sent again.",
            "%(count)s refused changes will be sent again.",
            count,
        )
        % {"count": count},
    )
    return redirect(layout_url(request, "integration_edit", pk))

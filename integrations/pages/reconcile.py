"""The integration page's everyday-sync controls: pause or resume sending changes as they
happen (`Integration.sync_changes`), and the seller's answer to a reconciliation that found
more drift than it sends back by itself (services/reconcile.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from integrations.models import Integration, Reconciliation
from integrations.pages.access import layout, layout_url, resync_permission_required
from integrations.services import reconcile
from integrations.services.runs import ResyncError


@require_POST
@login_required
@resync_permission_required
def sync_changes_switch(request, pk):
    """Flip the integration's everyday sync; the form says which way it was meant to go, so a
    second click on an old page does not flip it back."""
    integration = get_object_or_404(Integration, pk=pk)
    wanted = request.POST.get("sync_changes") == "on"
    if integration.sync_changes != wanted:
        integration.sync_changes = wanted
        integration.save(update_fields=["sync_changes"])
    if wanted:
        messages.success(
            request,
            _("Changes are synchronized with %(name)s as they happen again.")
            % {"name": integration.name},
        )
    else:
        messages.success(
            request,
            _(
                "Synchronizing changes with %(name)s is paused: changes wait for a resync, a "
                "reconciliation or resuming."
            )
            % {"name": integration.name},
        )
    return redirect(layout_url(request, "integration_edit", pk))


def _record(pk: int, record_pk: int) -> Reconciliation:
    return get_object_or_404(
        Reconciliation.objects.select_related("integration", "check_run"),
        pk=record_pk,
        integration_id=pk,
    )


@require_POST
@login_required
@resync_permission_required
def reconcile_confirm(request, pk, record_pk):
    record = _record(pk, record_pk)
    try:
        record = reconcile.reconcile_confirm(record, user=request.user, source=layout(request))
    except ResyncError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            ngettext(
                "Sending back the %(count)d offer whose price or stock differs, in the background.",
                "Sending back the %(count)d offers whose prices or stock differ, in background.",
                record.fix_run.total,
            )
            % {"count": record.fix_run.total},
        )
    return redirect(layout_url(request, "integration_edit", pk))


@require_POST
@login_required
@resync_permission_required
def reconcile_dismiss(request, pk, record_pk):
    if reconcile.reconcile_dismiss(_record(pk, record_pk)):
        messages.success(request, _("Dismissed: the channel keeps its prices and stock."))
    else:
        messages.info(request, _("This reconciliation has been decided already."))
    return redirect(layout_url(request, "integration_edit", pk))

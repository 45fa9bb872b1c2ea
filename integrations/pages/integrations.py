"""The integrations' own pages, in both layouts: the list, adding one, and an integration's
page (its settings and credentials, the progress panel of its run, its runs' history).

A run's controls and its own page are pages/runs.py; the URLs of both are pages/urls.py.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from integrations.channels import Channel
from integrations.forms import IntegrationForm
from integrations.models import RESYNC_PERMISSION, Integration, ResyncRun
from integrations.pages import connection as connection_pages
from integrations.pages.access import int_param, layout, layout_url, view_permission_required
from integrations.presentation import failures as run_failures
from integrations.presentation.display import last_runs, progress_data
from integrations.presentation.health import resync_workers_seen
from integrations.services import drift as drift_services
from integrations.services import reconcile as reconcile_services
from integrations.sync import freshness as sync_freshness

FAILURE_GROUPS_SHOWN = 5
HISTORY_SHOWN = 20


@login_required
@view_permission_required
def integration_list(request):
    integrations = sync_freshness.attach(last_runs(Integration.objects.all()))
    return render(
        request,
        f"{layout(request)}/integration_list.html",
        {
            "integrations": integrations,
            "can_add": request.user.has_perm("integrations.add_integration"),
        },
    )


@login_required
@view_permission_required
def integration_add(request):
    """A new integration, with the form the edit pages use: the channel is chosen first
    (?channel=), then the form shows that channel's fields."""
    if not request.user.has_perm("integrations.add_integration"):
        raise PermissionDenied
    if request.method == "POST":
        form = IntegrationForm(request.POST)
        if form.is_valid():
            integration = form.save()
            messages.success(
                request, _("The integration %(name)s was added.") % {"name": integration.name}
            )
            return redirect(layout_url(request, "integration_edit", integration.pk))
        channel = form.current_channel()
    else:
        channel = request.GET.get("channel", "")
        form = IntegrationForm(initial={"channel": channel}) if channel in Channel.values else None
    channels = [
        {"value": value, "label": label, "chosen": value == channel}
        for value, label in Channel.choices
    ]
    context = {"form": form, "channels": channels, "channel": channel}
    if form is not None:
        context["field_groups"] = integration_field_groups(form, None, channel_first=True)
    return render(request, f"{layout(request)}/integration_add.html", context)


def integration_field_groups(form, integration, *, channel_first: bool = False) -> list[dict]:
    """The form in two groups: settings and credentials (the channel first on a new one).

    Fields one channel uses carry data-channels (see IntegrationForm); static/xsale/
    channel-fields.js shows only the chosen channel's, and the server hides the others at first.
    """
    settings = form.settings_fields()
    if channel_first:
        settings.sort(key=lambda field: field.name != "channel")
    return [
        {"legend": "", "fields": settings},
        {"legend": _("Credentials"), "fields": form.secret_fields()},
    ]


def run_history(integration, *, before: int | None = None):
    """Every run of the integration, newest first, a page at a time (keyset on id)."""
    runs = ResyncRun.objects.filter(integration=integration).select_related(
        "requested_by", "integration"
    )
    if before:
        runs = runs.filter(pk__lt=before)
    page = list(runs.order_by("-pk")[: HISTORY_SHOWN + 1])
    older = page[HISTORY_SHOWN - 1].pk if len(page) > HISTORY_SHOWN else None
    return page[:HISTORY_SHOWN], older


@login_required
@view_permission_required
def integration_edit(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    if request.method == "POST":
        if not request.user.has_perm("integrations.change_integration"):
            raise PermissionDenied
        form = IntegrationForm(request.POST, instance=integration)
        if form.is_valid():
            form.save()
            messages.success(request, _("The integration was saved."))
            return redirect(layout_url(request, "integration_edit", integration.pk))
    else:
        form = IntegrationForm(instance=integration)
    run = integration.shown_run()
    history, older = run_history(integration, before=int_param(request, "runs_before"))
    context = {
        "integration": integration,
        "form": form,
        "field_groups": integration_field_groups(form, integration),
        "can_change": request.user.has_perm("integrations.change_integration"),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "run": run,
        "progress": progress_data(run) if run else None,
        "retry": run.latest_retry() if run and not run.is_active else None,
        "last_check": integration.latest_check(),
        "history": history,
        "history_older": older,
        "history_paged": "runs_before" in request.GET,
        "workers_down": not resync_workers_seen(),
        "connection_test": connection_pages.shown_result(request, integration),
        "drift_unreadable": drift_services.unreadable(integration),
        "reconciliation": reconcile_services.latest_reconciliation(integration),
        "freshness": sync_freshness.of(integration),
    }
    if run and not run.is_active and run.failed:
        context["failure_groups"] = run_failures.failure_groups(run, FAILURE_GROUPS_SHOWN)
        context["content_failed"] = run_failures.content_failure_count(run)
    return render(request, f"{layout(request)}/integration_edit.html", context)

"""A resync's controls and pages, in both layouts: confirm and start, cancel, retry failed,
resume, the progress panel's JSON, and a run's own page (its progress, plot and failures,
grouped, paged and exported). The integrations' list and edit pages are pages/integrations.py.

One set of views serves both layouts: the URLs are included twice (instance namespaces "v1" and
"v2" of the application namespace "integrations", see pages/urls.py), so the namespace a
request came through picks the layout's templates and is the run's `source`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from integrations.models import RESYNC_PERMISSION, Integration, ResyncRun
from integrations.pages.access import (
    int_param,
    layout,
    layout_url,
    query_with,
    resync_permission_required,
    run_param,
    view_permission_required,
)
from integrations.pages.confirm import confirm_part
from integrations.presentation import failures as run_failures
from integrations.presentation.display import progress_data
from integrations.presentation.health import resync_workers_seen
from integrations.services import estimates
from integrations.services import runs as run_services

# --- Resync: confirm and start, cancel, retry failed, progress ----------------------------------


@login_required
@resync_permission_required
def resync_confirm(request, pk):
    """GET: the warning, the offer count and the estimate. POST: start the run."""
    integration = get_object_or_404(Integration, pk=pk)
    if request.method == "POST":
        try:
            run_services.start_resync(
                integration,
                user=request.user,
                source=layout(request),
                **estimates.chosen_data(request.POST),
            )
        except run_services.ResyncError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _(
                    "The resync of %(name)s has started. It runs in the background: you may "
                    "close the browser."
                )
                % {"name": integration.name},
            )
        return redirect(layout_url(request, "integration_edit", integration.pk))
    active = integration.resync_runs.filter(status__in=ResyncRun.ACTIVE_STATUSES).first()
    # Without JavaScript the page shows the estimate of ?data_types= (each choice's is beside
    # it); static/xsale/resync-choice.js switches it as the seller chooses.
    selected = estimates.selected_data_types(request.GET)
    return render(
        request,
        "resync/confirm.html",
        {
            "layout_template": f"{layout(request)}/base.html",
            "integration": integration,
            "targets": estimates.resync_targets([integration], selected=selected),
            "active_run": active,
            "workers_down": not resync_workers_seen(),
            **estimates.data_choice_context([integration], selected=selected),
        },
    )


@require_POST
@login_required
@resync_permission_required
def resync_cancel(request, pk):
    run = get_object_or_404(ResyncRun, pk=run_param(request.POST), integration_id=pk)
    if run_services.cancel_resync(run, user=request.user):
        messages.success(request, _("Cancel requested: the resync stops after its current step."))
    else:
        messages.info(request, _("This resync had already ended."))
    return redirect(layout_url(request, "integration_edit", pk))


@require_http_methods(["GET", "POST"])
@login_required
@resync_permission_required
def resync_retry(request, pk):
    """Retry the failed offers of a run: all of them, or one reason group (code and reason).
    GET asks first (the warning, the count, the estimate); its form POSTs here to start."""
    params = request.POST if request.method == "POST" else request.GET
    run = get_object_or_404(
        ResyncRun.objects.select_related("integration"), pk=run_param(params), integration_id=pk
    )
    group = _group_param(params, prefix="group_")
    if request.method == "GET":
        return retry_confirmation(request, run, group)
    try:
        # `group` only when asked: one call for both, limited by run_services.retry_failed itself.
        extra = {"group": group} if group else {}
        retry = run_services.retry_failed(run, user=request.user, source=layout(request), **extra)
    except run_services.ResyncError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            ngettext(
                "Retrying %(count)d failed offer in the background.",
                "Retrying %(count)d failed offers in the background.",
                retry.total,
            )
            % {"count": retry.total},
        )
    return redirect(layout_url(request, "integration_edit", pk))


def retry_confirmation(request, run: ResyncRun, group: dict | None):
    try:
        run_services.check_retry(run, group)
    except run_services.ResyncError as error:
        messages.error(request, str(error))
        return redirect(layout_url(request, "integration_edit", run.integration_id))
    offers = run_services.planned_total(
        run.integration, retry_of=run, retry_filter=run_services.retry_group(group)
    )
    fields = {"run": run.pk}
    if group:
        fields.update({f"group_{key}": value for key, value in group.items()})
        note = _(
            "This resync sends again the offers of run #%(run)d that failed for one reason: "
            "%(reason)s"
        ) % {
            "run": run.pk,
            "reason": group.get("reason") or group.get("message") or group["code"] or "—",
        }
    else:
        note = _("This resync sends again the offers that failed in run #%(run)d.") % {
            "run": run.pk
        }
    refused = run_failures.content_failure_count(run, group)
    if refused:
        note += " " + ngettext(
            "%(count)d of them failed because the channel refused its content: it fails again "
            "unless the offer was corrected.",
            "%(count)d of them failed because the channel refused their content: they fail "
            "again unless the offers were corrected.",
            refused,
        ) % {"count": refused}
    return confirm_part(
        request,
        integration=run.integration,
        offers=offers,
        title=_("Retry failed") if not group else _("Retry these"),
        note=note,
        action=layout_url(request, "resync_retry", run.integration_id),
        fields=fields,
        back=layout_url(request, "resync_run", run.integration_id, run.pk),
    )


@require_POST
@login_required
@resync_permission_required
def resync_resume(request, pk):
    """Go on with a cancelled or failed run from where it stopped."""
    run = get_object_or_404(ResyncRun, pk=run_param(request.POST), integration_id=pk)
    try:
        resumed = run_services.resume_resync(run, user=request.user, source=layout(request))
    except run_services.ResyncError as error:
        messages.error(request, str(error))
    else:
        left = max(resumed.total - resumed.processed, 0)
        messages.success(
            request,
            ngettext(
                "The resync goes on from where it stopped: %(count)d offer left.",
                "The resync goes on from where it stopped: %(count)d offers left.",
                left,
            )
            % {"count": left},
        )
    return redirect(layout_url(request, "integration_edit", pk))


@login_required
@view_permission_required
def resync_progress(request, pk):
    """The progress panel's JSON: the run given by ?run=, else the integration's latest. With
    ?plot=1 (the run page) the plot comes with it, drawn from the same figures (`plot_html`):
    it appears with the first offers and moves with the pace, without a reload."""
    get_object_or_404(Integration.objects.only("pk"), pk=pk)
    runs = ResyncRun.objects.filter(integration_id=pk).select_related("requested_by")
    run_id = int_param(request, "run")
    run = get_object_or_404(runs, pk=run_id) if run_id is not None else runs.first()
    if run is None:
        return JsonResponse({"id": None, "active": False})
    data = progress_data(run, with_plot=request.GET.get("plot") == "1")
    if "plot" in data:
        plot = data.pop("plot")
        data["plot_html"] = (
            render_to_string("resync/_plot.html", {"plot": plot}, request=request) if plot else ""
        )
    return JsonResponse(data)


# --- A run's page: its progress, plot and failures (grouped, paged, exported) ------------------


def _group_param(params, prefix: str = "") -> dict | None:
    """The reason group a failures page, export or retry is limited to: ?code=…&reason=…
    (as failure groups are shown), or ?code=…&message=… (an exact message: older links)."""
    code, reason, message = (f"{prefix}code", f"{prefix}reason", f"{prefix}message")
    if reason in params:
        return {"code": params.get(code, ""), "reason": params[reason]}
    if code in params or message in params:
        return {"code": params.get(code, ""), "message": params.get(message, "")}
    return None


@login_required
@view_permission_required
def resync_run(request, pk, run_id):
    run = get_object_or_404(
        ResyncRun.objects.select_related("integration", "requested_by", "retry_of"),
        pk=run_id,
        integration_id=pk,
    )
    group = _group_param(request.GET)
    after = int_param(request, "after") or 0
    failures, next_after = run_failures.failure_page(run, after=after, group=group)
    params = request.GET.copy()
    params.pop("after", None)
    progress = progress_data(run, with_plot=True)
    context = {
        "layout_template": f"{layout(request)}/base.html",
        "integration": run.integration,
        "run": run,
        "progress": progress,
        "retry": None if run.is_active else run.latest_retry(),
        "plot": progress.pop("plot"),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "failure_groups": run_failures.failure_groups(run) if run.failed else [],
        "content_failed": run_failures.content_failure_count(run) if run.failed else 0,
        "group": group,
        "failures": failures,
        "first_page_url": "?" + params.urlencode() if after else None,
        "next_url": "?" + query_with(params, after=next_after) if next_after else None,
        "csv_query": params.urlencode(),
        "workers_down": run.is_active and not resync_workers_seen(),
        "on_run_page": True,
    }
    return render(request, "resync/run.html", context)


@login_required
@view_permission_required
def resync_failures_csv(request, pk, run_id):
    """Every failure of the run (or of one reason group) as CSV, streamed."""
    run = get_object_or_404(ResyncRun, pk=run_id, integration_id=pk)
    response = StreamingHttpResponse(
        run_failures.failures_csv(run, _group_param(request.GET)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="resync-{run.pk}-failures.csv"'
    return response

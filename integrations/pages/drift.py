"""The drift check's pages in both layouts: start a check, its report (and CSV), resync only
what differs; and the choice of what a resync sends, shared by the confirmation pages.

Mounted under the same namespaces as pages/runs.py ("integrations", instances "v1" and
"v2"); the logic is in services/drift.py and engine/drift_check.py.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from integrations.models import DriftItem, DriftListing, Integration, ResyncRun
from integrations.pages.access import (
    int_param,
    layout,
    layout_url,
    query_with,
    resync_permission_required,
    view_permission_required,
)
from integrations.pages.confirm import confirm_part
from integrations.presentation import drift_report as report_display
from integrations.presentation.csv_export import csv_lines
from integrations.presentation.display import datetime_display, progress_data
from integrations.presentation.drift_report import FIELD_LABELS
from integrations.services import drift, runs
from integrations.services.estimates import chosen_data, data_choice_context, selected_data_types

REPORT_PAGE_SIZE = 50

KIND_LABELS = {
    DriftItem.Kind.DIFFERS: gettext_lazy("differs"),
    DriftItem.Kind.MISSING: gettext_lazy("missing on the channel"),
    DriftItem.Kind.UNKNOWN: gettext_lazy("unknown to xSale"),
}
# --- the choice of what a resync sends (confirmation pages, admin, report) ---------------------


# --- pages ------------------------------------------------------------------------------------


def _check_of(pk: int, run_pk: int) -> ResyncRun:
    return get_object_or_404(
        ResyncRun.objects.select_related("integration", "requested_by"),
        pk=run_pk,
        integration_id=pk,
        kind=ResyncRun.Kind.CHECK,
    )


@require_POST
@login_required
@resync_permission_required
def drift_check_start(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    data_types = chosen_data(request.POST)["data_types"]
    try:
        check = drift.start_check(
            integration, user=request.user, source=layout(request), data_types=data_types
        )
    except runs.ResyncError as error:
        messages.error(request, str(error))
        return redirect(layout_url(request, "integration_edit", pk))
    messages.success(
        request,
        _(
            "The drift check of %(name)s has started. It only reads from the channel and runs "
            "in the background: you may close the browser."
        )
        % {"name": integration.name},
    )
    return redirect(layout_url(request, "drift_report", pk, check.pk))


def report_items(
    check: ResyncRun, *, after: int = 0, before: int = 0, kind: str = "", field: str = ""
):
    """One page of the report, in the check's order (pk keyset, never OFFSET): the page after
    `after`, or the one before `before` (going back). Returns (rows, another page that way)."""
    found = DriftItem.objects.filter(check_run=check).select_related("offer")
    if kind in DriftItem.Kind.values:
        found = found.filter(kind=kind)
    if field in FIELD_LABELS:
        found = found.filter(fields__has_key=field)
    if before:
        rows = list(found.filter(pk__lt=before).order_by("-pk")[: REPORT_PAGE_SIZE + 1])
        return rows[:REPORT_PAGE_SIZE][::-1], len(rows) > REPORT_PAGE_SIZE
    rows = list(found.filter(pk__gt=after).order_by("pk")[: REPORT_PAGE_SIZE + 1])
    return rows[:REPORT_PAGE_SIZE], len(rows) > REPORT_PAGE_SIZE


def field_rows(item: DriftItem) -> list[dict]:
    return [
        {
            "field": name,
            "label": FIELD_LABELS.get(name, name),
            "ours": _shown(values.get("ours")),
            "theirs": _shown(values.get("theirs")),
        }
        for name, values in item.fields.items()
    ]


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {', '.join(map(str, v or []))}" for k, v in value.items())
    return str(value)


@login_required
@view_permission_required
def drift_report(request, pk, run_pk):
    check = _check_of(pk, run_pk)
    integration = check.integration
    report = check.report or {}
    kind = request.GET.get("kind", "")
    field = request.GET.get("field", "")
    after = int_param(request, "after") or 0
    before = int_param(request, "before") or 0
    rows, more = report_items(check, after=after, before=before, kind=kind, field=field)
    # Going forward, `more` is a next page; going back, an earlier one (and the page left is
    # the next).
    has_next, has_previous = (bool(rows), more) if before else (more, bool(after))
    listed_data = dict(
        DriftListing.objects.filter(
            check_run=check, external_id__in=[r.external_id for r in rows if r.external_id]
        ).values_list("external_id", "data")
    )
    currency_compared = "currency" in report.get("compared", [])
    for row in rows:
        row.field_rows = field_rows(row)
        report_display.prices_with_currency(row, row.field_rows, currency_compared)
        row.kind_label = KIND_LABELS.get(row.kind, row.kind)
        if row.kind != DriftItem.Kind.MISSING:
            row.listing_url = report_display.listing_url(
                integration, row.external_id, listed_data.get(row.external_id)
            )
    sent_by = DriftItem.objects.sent_by_fix(check, rows)
    for row in rows:
        row.resent_by = sent_by.get(row.pk)
    completed = check.status == ResyncRun.Status.COMPLETED
    differing = drift.differing_count(check) if completed else 0
    suggested = drift.suggested_data_types(check)
    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    next_url = previous_url = None
    if has_next and rows:
        next_url = "?" + query_with(params, after=rows[-1].pk)
    if has_previous and rows:
        previous_url = "?" + query_with(params, before=rows[0].pk)
    context = {
        "layout_template": f"{layout(request)}/base.html",
        "integration": integration,
        "check": check,
        "run": check,
        "progress": progress_data(check),
        "report": report,
        "report_notes": report_display.report_notes(integration, report),
        "compared": [FIELD_LABELS[f] for f in report.get("compared", []) if f in FIELD_LABELS],
        "field_counts": [
            {"field": f, "label": FIELD_LABELS.get(f, f), "count": n}
            for f, n in sorted((report.get("fields") or {}).items(), key=lambda x: -x[1])
        ],
        "kinds": [{"value": k, "label": label} for k, label in KIND_LABELS.items()],
        "kind": kind,
        "field": field,
        "rows": rows,
        "first_page": not (after or before) or not has_previous,
        "next_url": next_url,
        "previous_url": previous_url,
        "differing": differing,
        "resent": check.drift_resent,
        "latest_fix": check.fixes.filter(kind=ResyncRun.Kind.RESYNC)
        .order_by("-created_at")
        .first(),
        "missing": drift.missing_count(check) if completed else 0,
        "can_resync": request.user.has_perm("integrations.resync_integration"),
        "fixes": check.fixes.order_by("-created_at")[:5],
        "csv_url": layout_url(request, "drift_report_csv", pk, check.pk),
        **data_choice_context([integration], differing, suggested),
    }
    return render(request, "drift/report.html", context)


CSV_HEADER = [
    "kind",
    "sku",
    "offer",
    "listing_id",
    "field",
    "ours",
    "theirs",
    "last_sent_at",
]


def csv_rows(check: ResyncRun, kind: str = ""):
    """The report as CSV lines, one per differing field (one per missing or unknown listing);
    only one kind of item when `kind` is given (the missing offers, the unknown listings)."""
    yield CSV_HEADER
    items = DriftItem.objects.filter(check_run=check)
    if kind in DriftItem.Kind.values:
        items = items.filter(kind=kind)
    items = items.select_related("offer").order_by("pk").iterator(chunk_size=2000)
    for item in items:
        sku = item.offer.sku if item.offer else ""
        name = item.offer.name if item.offer else ""
        sent = timezone.localtime(item.last_sent_at).isoformat() if item.last_sent_at else ""
        base = [item.kind, sku, name, item.external_id]
        if item.kind == DriftItem.Kind.DIFFERS:
            for row in field_rows(item):
                yield [*base, row["field"], row["ours"], row["theirs"], sent]
        else:
            theirs = (item.fields.get("name") or {}).get("theirs") or ""
            yield [*base, "", "", theirs, sent]


@login_required
@view_permission_required
def drift_report_csv(request, pk, run_pk):
    check = _check_of(pk, run_pk)
    kind = request.GET.get("kind", "")
    kind = kind if kind in DriftItem.Kind.values else ""
    response = StreamingHttpResponse(
        csv_lines(csv_rows(check, kind)),  # `;`-separated, quoted, formula-safe: csv_export
        content_type="text/csv; charset=utf-8",
    )
    name = f"drift-{check.pk}-{kind}" if kind else f"drift-{check.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@require_http_methods(["GET", "POST"])
@login_required
@resync_permission_required
def drift_fix(request, pk, run_pk):
    """GET asks first (the warning, the count, the estimate of the chosen data); POST starts."""
    check = _check_of(pk, run_pk)
    if request.method == "GET":
        return _fix_confirmation(request, check)
    try:
        fix = drift.start_fix(
            check, user=request.user, source=layout(request), **chosen_data(request.POST)
        )
    except runs.ResyncError as error:
        messages.error(request, str(error))
        return redirect(layout_url(request, "drift_report", pk, check.pk))
    messages.success(
        request,
        ngettext(
            "Resynchronising the %(count)d offer the check found different, in the background.",
            "Resynchronising the %(count)d offers the check found different, in the background.",
            fix.total,
        )
        % {"count": fix.total},
    )
    return redirect(layout_url(request, "integration_edit", pk))


def _fix_confirmation(request, check: ResyncRun):
    integration = check.integration
    offers = runs.planned_total(integration, differing_of=check)
    if not offers:
        messages.error(request, _("The drift check found no offer to resynchronise."))
        return redirect(layout_url(request, "drift_report", integration.pk, check.pk))
    return confirm_part(
        request,
        integration=integration,
        offers=offers,
        title=_("Resync only what differs"),
        note=_(
            "This resync sends only the offers the drift check of %(date)s found different. "
            "Offers missing on the channel are not sent: a resync cannot bring back a deleted "
            "listing."
        )
        % {"date": datetime_display(check.created_at)},
        action=layout_url(request, "drift_fix", integration.pk, check.pk),
        fields={},
        back=layout_url(request, "drift_report", integration.pk, check.pk),
        choose_data=True,
        selected=selected_data_types(request.GET, drift.suggested_data_types(check)),
    )

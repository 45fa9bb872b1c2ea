"""The V1 and V2 pages of integrations, the resync controls and the sync log.

One set of views serves both layouts: the URLs are included twice (instance namespaces "v1" and
"v2" of the application namespace "integrations", see integrations/urls.py), so the namespace a
request came through picks the layout's templates and is the run's `source`.
"""

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from integrations import failures as run_failures
from integrations import rates, resync
from integrations.channels import Channel, sends_photo_binaries_always
from integrations.forms import IntegrationForm
from integrations.health import resync_workers_seen
from integrations.models import Integration, ResyncRun
from integrations.plot import run_plot
from offers.currencies import is_currency
from offers.models import SiteJournal

RESYNC_PERMISSION = "integrations.resync_integration"
FAILURE_GROUPS_SHOWN = 5
HISTORY_SHOWN = 20
SYNC_LOG_PAGE_SIZE = 50

VIEW_PERMISSION = "integrations.view_integration"

resync_permission_required = permission_required(RESYNC_PERMISSION, raise_exception=True)
# Every page that shows integrations, runs or the sync log: a login alone is not enough.
view_permission_required = permission_required(VIEW_PERMISSION, raise_exception=True)


# --- Shared helpers (also used by integrations/admin.py) ----------------------------------------


def duration_display(seconds: int | float | None) -> str:
    """A seller-readable duration: "45 s", "12 min", "3 h 20 min", "2 days 3 h"."""
    if seconds is None:
        return "—"
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes = -(-seconds // 60)  # round up: an estimate should not promise too little
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    if minutes < 24 * 60:
        if minutes % 60 == 0:
            return _("%(h)d h") % {"h": minutes // 60}
        return _("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}
    hours = -(-minutes // 60)
    days = ngettext("%(d)d day", "%(d)d days", hours // 24) % {"d": hours // 24}
    if hours % 24 == 0:
        return days
    return _("%(days)s %(h)d h") % {"days": days, "h": hours % 24}


def datetime_display(moment) -> str:
    """One date style per language: the locale's short date and time."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@dataclass
class ResyncTarget:
    """What the warning shows for one integration before a resync starts."""

    integration: Integration
    offers: int
    estimate: str
    photos_always: bool
    # The limit that sets the duration, and how many running resyncs share the budgets.
    binding: str = ""
    sharing: int = 0


def resync_targets(integrations) -> list[ResyncTarget]:
    targets = []
    for integration in integrations:
        offers = resync.resync_offer_count(integration)
        estimate = resync.resync_estimate(integration, offers)
        targets.append(
            ResyncTarget(
                integration=integration,
                offers=offers,
                estimate=duration_display(estimate.seconds),
                photos_always=sends_photo_binaries_always(integration.channel),
                binding=estimate.binding,
                sharing=estimate.sharing,
            )
        )
    return targets


def progress_data(run: ResyncRun) -> dict:
    """The run's to_dict() plus the few values the page shows formatted and translated.

    Rate and time left are the smoothed ones (integrations/rates.py), as the command line's.
    """
    data = run.to_dict()
    pace = rates.pace(run)
    data.update(
        {
            "rate_per_second": round(pace.per_second, 1),
            "rate_per_minute": round(pace.per_minute),
            "eta_seconds": pace.eta_seconds,
            "outcome_display": run.outcome_display,
            "percent_display": str(math.floor(data["percent"])),
            "eta_display": duration_display(pace.eta_seconds) if data["active"] else "—",
            "rate_display": _("%(rate)s offers/min")
            % {"rate": formats.number_format(round(pace.per_minute), 0, use_l10n=True)},
            "started_display": datetime_display(run.started_at),
            "finished_display": datetime_display(run.finished_at),
            "duration_display": duration_display(data["duration_seconds"]),
            "paused_until_display": datetime_display(run.paused_until) if run.paused_until else "",
            "can_resume": run.can_resume,
        }
    )
    return data


# --- Integrations: list and edit ----------------------------------------------------------------


def _layout(request) -> str:
    return request.resolver_match.namespace  # "v1" or "v2"


def _url(request, name: str, *args) -> str:
    return reverse(f"integrations:{name}", args=args, current_app=_layout(request))


@login_required
@view_permission_required
def integration_list(request):
    last_run = ResyncRun.objects.filter(integration=OuterRef("pk")).values("pk")[:1]
    integrations = list(Integration.objects.annotate(last_run_id=Subquery(last_run)))
    runs = ResyncRun.objects.in_bulk([i.last_run_id for i in integrations if i.last_run_id])
    for integration in integrations:
        integration.last_run = runs.get(integration.last_run_id)
    return render(
        request, f"{_layout(request)}/integration_list.html", {"integrations": integrations}
    )


def integration_field_groups(form, integration) -> list[dict]:
    """The form in two groups: settings and credentials.

    Fields one channel uses carry data-channels (see IntegrationForm); static/xsale/
    channel-fields.js shows only the chosen channel's, and the server hides the others at first.
    """
    return [
        {"legend": "", "fields": form.settings_fields()},
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


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


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
            return redirect(_url(request, "integration_edit", integration.pk))
    else:
        form = IntegrationForm(instance=integration)
    run = integration.latest_run()
    history, older = run_history(integration, before=_int_param(request, "runs_before"))
    context = {
        "integration": integration,
        "form": form,
        "field_groups": integration_field_groups(form, integration),
        "can_change": request.user.has_perm("integrations.change_integration"),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "run": run,
        "progress": progress_data(run) if run else None,
        "history": history,
        "history_older": older,
        "history_paged": "runs_before" in request.GET,
        "workers_down": not resync_workers_seen(),
    }
    if run and not run.is_active and run.failed:
        context["failure_groups"] = run_failures.failure_groups(run, FAILURE_GROUPS_SHOWN)
    return render(request, f"{_layout(request)}/integration_edit.html", context)


# --- Resync: confirm and start, cancel, retry failed, progress ----------------------------------


@login_required
@resync_permission_required
def resync_confirm(request, pk):
    """GET: the warning, the offer count and the estimate. POST: start the run."""
    integration = get_object_or_404(Integration, pk=pk)
    from integrations import drift_views  # the choice of data types (issue #12)

    if request.method == "POST":
        try:
            resync.start_resync(
                integration,
                user=request.user,
                source=_layout(request),
                **drift_views.chosen_data(request.POST),
            )
        except resync.ResyncError as error:
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
        return redirect(_url(request, "integration_edit", integration.pk))
    active = integration.resync_runs.filter(status__in=ResyncRun.ACTIVE_STATUSES).first()
    return render(
        request,
        "resync/confirm.html",
        {
            "layout_template": f"{_layout(request)}/base.html",
            "integration": integration,
            "targets": resync_targets([integration]),
            "active_run": active,
            "workers_down": not resync_workers_seen(),
            **drift_views.data_choice_context([integration]),
        },
    )


@require_POST
@login_required
@resync_permission_required
def resync_cancel(request, pk):
    run = get_object_or_404(ResyncRun, pk=request.POST.get("run"), integration_id=pk)
    if resync.cancel_resync(run, user=request.user):
        messages.success(request, _("Cancel requested: the resync stops after its current step."))
    else:
        messages.info(request, _("This resync had already ended."))
    return redirect(_url(request, "integration_edit", pk))


@require_POST
@login_required
@resync_permission_required
def resync_retry(request, pk):
    """Retry the failed offers of a run: all of them, or one reason group (code and message)."""
    run = get_object_or_404(ResyncRun, pk=request.POST.get("run"), integration_id=pk)
    group = None
    if "group_code" in request.POST or "group_message" in request.POST:
        group = {
            "code": request.POST.get("group_code", ""),
            "message": request.POST.get("group_message", ""),
        }
    try:
        # `group` only when asked: one call for both, limited by resync.retry_failed itself.
        extra = {"group": group} if group else {}
        retry = resync.retry_failed(run, user=request.user, source=_layout(request), **extra)
    except resync.ResyncError as error:
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
    return redirect(_url(request, "integration_edit", pk))


@require_POST
@login_required
@resync_permission_required
def resync_resume(request, pk):
    """Go on with a cancelled or failed run from where it stopped."""
    run = get_object_or_404(ResyncRun, pk=request.POST.get("run"), integration_id=pk)
    try:
        resumed = resync.resume_resync(run, user=request.user, source=_layout(request))
    except resync.ResyncError as error:
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
    return redirect(_url(request, "integration_edit", pk))


@login_required
@view_permission_required
def resync_progress(request, pk):
    """The progress panel's JSON: the run given by ?run=, else the integration's latest."""
    get_object_or_404(Integration.objects.only("pk"), pk=pk)
    runs = ResyncRun.objects.filter(integration_id=pk).select_related("requested_by")
    run_id = request.GET.get("run", "")
    run = get_object_or_404(runs, pk=run_id) if run_id.isdigit() else runs.first()
    if run is None:
        return JsonResponse({"id": None, "active": False})
    return JsonResponse(progress_data(run))


# --- A run's page: its progress, plot and failures (grouped, paged, exported) ------------------


def _group_param(params) -> dict | None:
    """The reason group a failures page or export is limited to (?code=…&message=…)."""
    if "code" not in params and "message" not in params:
        return None
    return {"code": params.get("code", ""), "message": params.get("message", "")}


@login_required
@permission_required("integrations.view_integration", raise_exception=True)
def resync_run(request, pk, run_id):
    run = get_object_or_404(
        ResyncRun.objects.select_related("integration", "requested_by", "retry_of"),
        pk=run_id,
        integration_id=pk,
    )
    group = _group_param(request.GET)
    after = _int_param(request, "after") or 0
    failures, next_after = run_failures.failure_page(run, after=after, group=group)
    params = request.GET.copy()
    params.pop("after", None)
    context = {
        "layout_template": f"{_layout(request)}/base.html",
        "integration": run.integration,
        "run": run,
        "progress": progress_data(run),
        "plot": run_plot(run),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "failure_groups": run_failures.failure_groups(run) if run.failed else [],
        "group": group,
        "failures": failures,
        "first_page_url": "?" + params.urlencode() if after else None,
        "next_url": "?" + _with(params, after=next_after) if next_after else None,
        "csv_query": params.urlencode(),
        "workers_down": run.is_active and not resync_workers_seen(),
        "on_run_page": True,
    }
    return render(request, "resync/run.html", context)


@login_required
@permission_required("integrations.view_integration", raise_exception=True)
def resync_failures_csv(request, pk, run_id):
    """Every failure of the run (or of one reason group) as CSV, streamed."""
    run = get_object_or_404(ResyncRun, pk=run_id, integration_id=pk)
    response = StreamingHttpResponse(
        run_failures.failures_csv(run, _group_param(request.GET)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="resync-{run.pk}-failures.csv"'
    return response


# --- The sync log ("Logi synchronizacji"): the site journal, keyset-paginated -------------------


class SyncLogFilter(forms.Form):
    q = forms.CharField(label=gettext_lazy("Name or SKU"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("Synced from"), required=False, widget=forms.DateInput({"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("Synced to"), required=False, widget=forms.DateInput({"type": "date"})
    )
    price_min = forms.DecimalField(label=gettext_lazy("Price from"), required=False, min_value=0)
    price_max = forms.DecimalField(label=gettext_lazy("Price to"), required=False, min_value=0)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("any"))] + SiteJournal.Status.choices,
    )
    currency = forms.CharField(label=gettext_lazy("Currency"), required=False, max_length=3)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("any"))] + Channel.choices,
    )
    integration = forms.ModelChoiceField(
        label=gettext_lazy("Integration"),
        required=False,
        queryset=Integration.objects.order_by("name"),
        empty_label=gettext_lazy("any"),
    )
    run = forms.IntegerField(
        label=gettext_lazy("Resync run no."),
        required=False,
        min_value=1,
        help_text=gettext_lazy("The offers that run sent or failed."),
    )

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if currency and not is_currency(currency):
            raise forms.ValidationError(
                _("“%(code)s” is not a currency code (ISO 4217, e.g. PLN, EUR).")
                % {"code": currency}
            )
        return currency

    def clean_run(self):
        run_id = self.cleaned_data["run"]
        if run_id is None:
            return None
        run = ResyncRun.objects.filter(pk=run_id).first()
        if run is None:
            raise forms.ValidationError(_("There is no resync run no. %(id)s.") % {"id": run_id})
        return run

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", _("The upper price is below the lower one."))
        return data

    def filter(self, entries):
        data = self.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            entries = entries.filter(Q(offer__sku=q) | Q(offer__name__icontains=q))
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            entries = entries.filter(
                synced_at__gte=datetime.combine(data["date_from"], time.min, tzinfo=tz)
            )
        if data["date_to"]:
            entries = entries.filter(
                synced_at__lte=datetime.combine(data["date_to"], time.max, tzinfo=tz)
            )
        if data["price_min"] is not None:
            entries = entries.filter(price_sent__gte=data["price_min"])
        if data["price_max"] is not None:
            entries = entries.filter(price_sent__lte=data["price_max"])
        if data["status"]:
            entries = entries.filter(status=data["status"])
        if data["currency"]:
            entries = entries.filter(currency_sent=data["currency"])
        if data["channel"]:
            # A few integrations per channel: the index on (integration, synced_at, id) serves it.
            entries = entries.filter(
                integration_id__in=Integration.objects.filter(channel=data["channel"]).values("pk")
            )
        if data["integration"]:
            entries = entries.filter(integration=data["integration"])
        if data["run"]:
            # The journal keeps the latest send per offer: the run's rows are those of its
            # integration written while it ran.
            run = data["run"]
            entries = entries.filter(integration_id=run.integration_id)
            if run.started_at:
                entries = entries.filter(synced_at__gte=run.started_at)
            if run.finished_at:
                entries = entries.filter(synced_at__lte=run.finished_at)
            elif not run.started_at:
                entries = entries.none()
        return entries


def encode_cursor(entry: SiteJournal) -> str:
    raw = f"{entry.synced_at.isoformat()}|{entry.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str):
    """(synced_at, id) from a page link, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, pk = raw.split("|")
        synced_at = parse_datetime(stamp)
        return (synced_at, int(pk)) if synced_at else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def sync_log_page(entries, *, after=None, before=None, size=SYNC_LOG_PAGE_SIZE):
    """One page of the journal, newest first, by keyset on (synced_at, id).

    Never OFFSET and never COUNT(*): each page reads `size + 1` rows along the index from the
    cursor, so page 20,000 costs what page 1 costs. Returns (rows, has_next, has_previous).
    """
    if before:
        stamp, pk = before
        newer = Q(synced_at__gt=stamp) | Q(synced_at=stamp, pk__gt=pk)
        rows = list(entries.filter(newer).order_by("synced_at", "pk")[: size + 1])
        has_previous = len(rows) > size
        rows = rows[:size][::-1]
        return rows, True, has_previous
    if after:
        stamp, pk = after
        entries_after = entries.filter(Q(synced_at__lt=stamp) | Q(synced_at=stamp, pk__lt=pk))
    else:
        entries_after = entries
    rows = list(entries_after.order_by("-synced_at", "-pk")[: size + 1])
    has_next = len(rows) > size
    return rows[:size], has_next, after is not None


@login_required
@view_permission_required
def sync_log(request):
    form = SyncLogFilter(request.GET or None)
    # Rows never synced (a link without a send yet) are not log entries.
    entries = SiteJournal.objects.filter(synced_at__isnull=False).select_related(
        "offer", "integration"
    )
    if form.is_bound and form.is_valid():
        entries = form.filter(entries)
    elif form.is_bound:
        entries = entries.none()
    rows, has_next, has_previous = sync_log_page(
        entries,
        after=decode_cursor(request.GET.get("after", "")),
        before=decode_cursor(request.GET.get("before", "")),
    )
    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    context = {"form": form, "rows": rows, "next_url": None, "previous_url": None}
    if rows and has_next:
        context["next_url"] = "?" + _with(params, after=encode_cursor(rows[-1]))
    if rows and has_previous:
        context["previous_url"] = "?" + _with(params, before=encode_cursor(rows[0]))
    return render(request, "v2/sync_log.html", context)


def _with(params, **extra) -> str:
    params = params.copy()
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()

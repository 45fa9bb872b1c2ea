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
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from integrations import resync
from integrations.channels import Channel, sends_photo_binaries_always
from integrations.forms import IntegrationForm
from integrations.models import Integration, ResyncRun
from offers.models import SiteJournal

RESYNC_PERMISSION = "integrations.resync_integration"
FAILURES_SHOWN = 50
HISTORY_SHOWN = 10
SYNC_LOG_PAGE_SIZE = 50

VIEW_PERMISSION = "integrations.view_integration"

resync_permission_required = permission_required(RESYNC_PERMISSION, raise_exception=True)
# Every page that shows integrations, runs or the sync log: a login alone is not enough.
view_permission_required = permission_required(VIEW_PERMISSION, raise_exception=True)


# --- Shared helpers (also used by integrations/admin.py) ----------------------------------------


def duration_display(seconds: int | float | None) -> str:
    """A seller-readable duration: "45 s", "12 min", "3 h 20 min"."""
    if seconds is None:
        return "—"
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes = -(-seconds // 60)  # round up: an estimate should not promise too little
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    return _("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}


@dataclass
class ResyncTarget:
    """What the warning shows for one integration before a resync starts."""

    integration: Integration
    offers: int
    estimate: str
    photos_always: bool


def resync_targets(integrations) -> list[ResyncTarget]:
    targets = []
    for integration in integrations:
        offers = resync.resync_offer_count(integration)
        seconds = resync.resync_estimate_seconds(integration, offers)
        targets.append(
            ResyncTarget(
                integration=integration,
                offers=offers,
                estimate=duration_display(seconds),
                photos_always=sends_photo_binaries_always(integration.channel),
            )
        )
    return targets


def progress_data(run: ResyncRun) -> dict:
    """The run's to_dict() plus the few values the page shows formatted and translated."""
    data = run.to_dict()
    started = timezone.localtime(run.started_at) if run.started_at else None
    data.update(
        {
            "percent_display": str(math.floor(data["percent"])),
            "eta_display": duration_display(data["eta_seconds"]) if data["active"] else "—",
            "rate_display": _("%(rate)s offers/s")
            % {"rate": formats.number_format(data["rate_per_second"], 1, use_l10n=True)},
            "started_display": formats.date_format(started, "DATETIME_FORMAT") if started else "—",
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
    """The form in three groups: settings, the channel's credentials, the other channels'."""
    own_keys = set(integration.facts.credential_keys)
    secrets = form.secret_fields()
    others = [f for f in secrets if f.field.widget.attrs["data-credential"] not in own_keys]
    return [
        {"legend": "", "fields": [form[name] for name in IntegrationForm.Meta.fields]},
        {
            "legend": _("Credentials"),
            "fields": [f for f in secrets if f.field.widget.attrs["data-credential"] in own_keys],
        },
        {
            "legend": _("Credentials of other channels (only when you change the channel)"),
            "fields": others,
            "collapsed": True,
            "open": any(f.errors for f in others),
        },
    ]


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
    context = {
        "integration": integration,
        "form": form,
        "field_groups": integration_field_groups(form, integration),
        "can_change": request.user.has_perm("integrations.change_integration"),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "run": run,
        "progress": progress_data(run) if run else None,
        # Past runs: the latest one is in the progress panel above.
        "history": ResyncRun.objects.filter(integration=integration)
        .exclude(pk=run.pk if run else None)
        .select_related("requested_by")[:HISTORY_SHOWN],
    }
    if run and not run.is_active:
        context["failures"] = run.failures.select_related("offer")[:FAILURES_SHOWN]
        context["failures_total"] = run.failures.count()
    return render(request, f"{_layout(request)}/integration_edit.html", context)


# --- Resync: confirm and start, cancel, retry failed, progress ----------------------------------


@login_required
@resync_permission_required
def resync_confirm(request, pk):
    """GET: the warning, the offer count and the estimate. POST: start the run."""
    integration = get_object_or_404(Integration, pk=pk)
    if request.method == "POST":
        try:
            resync.start_resync(integration, user=request.user, source=_layout(request))
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
    return render(
        request,
        "resync/confirm.html",
        {
            "layout_template": f"{_layout(request)}/base.html",
            "integration": integration,
            "targets": resync_targets([integration]),
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
    run = get_object_or_404(ResyncRun, pk=request.POST.get("run"), integration_id=pk)
    try:
        retry = resync.retry_failed(run, user=request.user, source=_layout(request))
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
            entries = entries.filter(currency_sent=data["currency"].upper())
        if data["channel"]:
            # A few integrations per channel: the index on (integration, synced_at, id) serves it.
            entries = entries.filter(
                integration_id__in=Integration.objects.filter(channel=data["channel"]).values("pk")
            )
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

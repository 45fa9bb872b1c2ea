"""The sync log (V2): the site journal's rows, newest first, filtered and paged by keyset."""

import base64
import binascii
from datetime import datetime, time

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.channels import Channel
from integrations.models import Integration, ResyncRun
from integrations.pages.access import query_with, view_permission_required
from integrations.sync.freshness import with_everyday_mark
from offers.currencies import is_currency
from offers.models import SiteJournal
from xsale.input import ascii_number

SYNC_LOG_PAGE_SIZE = 50


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
        run = ResyncRun.objects.filter(pk=run_id).select_related("integration").first()
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
        self._clean_combinations(data)
        return data

    def _clean_combinations(self, data) -> None:
        """Filters each valid alone that no row can match together: say why, never an empty
        list without a reason."""
        channel, integration, run = data.get("channel"), data.get("integration"), data.get("run")
        if integration and channel and integration.channel != channel:
            self.add_error(
                "integration",
                _(
                    "%(integration)s is a %(its)s integration, not %(chosen)s: change the "
                    "channel or the integration."
                )
                % {
                    "integration": integration.name,
                    "its": integration.get_channel_display(),
                    "chosen": Channel(channel).label,
                },
            )
        if not run:
            return
        if integration and run.integration_id != integration.pk:
            self.add_error(
                "run",
                _("Run no. %(id)s belongs to %(its)s, not to %(chosen)s.")
                % {"id": run.pk, "its": run.integration.name, "chosen": integration.name},
            )
        elif channel and run.integration.channel != channel:
            self.add_error(
                "run",
                _("Run no. %(id)s belongs to %(its)s, a %(channel)s integration.")
                % {
                    "id": run.pk,
                    "its": run.integration.name,
                    "channel": run.integration.get_channel_display(),
                },
            )
        elif not run.started_at:
            self.add_error(
                "run",
                _("Run no. %(id)s has not started yet: it has sent nothing.") % {"id": run.pk},
            )
        start, end = data.get("date_from"), data.get("date_to")
        tz = timezone.get_current_timezone()
        if (
            run.finished_at
            and start
            and datetime.combine(start, time.min, tzinfo=tz) > run.finished_at
        ):
            self.add_error(
                "date_from",
                _("Run no. %(id)s ended on %(day)s, before this date.")
                % {
                    "id": run.pk,
                    "day": formats.date_format(
                        timezone.localtime(run.finished_at).date(), "SHORT_DATE_FORMAT"
                    ),
                },
            )
        if run.started_at and end and datetime.combine(end, time.max, tzinfo=tz) < run.started_at:
            self.add_error(
                "date_to",
                _("Run no. %(id)s started on %(day)s, after this date.")
                % {
                    "id": run.pk,
                    "day": formats.date_format(
                        timezone.localtime(run.started_at).date(), "SHORT_DATE_FORMAT"
                    ),
                },
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
        synced_at, pk = parse_datetime(stamp), ascii_number(pk)
        return (synced_at, pk) if synced_at and pk is not None else None
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
    entries = with_everyday_mark(
        SiteJournal.objects.filter(synced_at__isnull=False)
    ).select_related("offer", "integration")
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
        context["next_url"] = "?" + query_with(params, after=encode_cursor(rows[-1]))
    if rows and has_previous:
        context["previous_url"] = "?" + query_with(params, before=encode_cursor(rows[0]))
    return render(request, "v2/sync_log.html", context)

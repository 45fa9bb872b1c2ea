"""How runs, durations and dates read for a seller — one place for the pages, the admin, the
command line and the e-mail."""

import math

from django.db.models import OuterRef, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.models import ResyncRun
from integrations.presentation import rates


def duration_display(seconds: int | float | None, *, estimate: bool = False) -> str:
    """A seller-readable duration: "45 s", "1 min 13 s", "12 min", "3 h 20 min", "2 days 3 h".

    Under two minutes the seconds are shown. Above, minutes: a duration taken is rounded to the
    nearest (3 min 19 s took "3 min", not "4 min"); an `estimate` (time left, the confirmation's
    estimate) is rounded up, so that it does not promise too little.
    """
    if seconds is None:
        return "—"
    seconds = max(float(seconds), 0.0)
    if estimate:
        seconds = math.ceil(seconds)
    elif 0 < seconds < 0.5:
        return _("under 1 s")
    seconds = int(round(seconds))
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 120:
        if seconds == 60:
            return _("%(m)d min") % {"m": 1}
        return _("%(m)d min %(s)d s") % {"m": 1, "s": seconds - 60}
    minutes = -(-seconds // 60) if estimate else (seconds + 30) // 60
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    if minutes < 24 * 60:
        if minutes % 60 == 0:
            return _("%(h)d h") % {"h": minutes // 60}
        return _("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}
    hours = -(-minutes // 60) if estimate else (minutes + 30) // 60
    days = ngettext("%(d)d day", "%(d)d days", hours // 24) % {"d": hours // 24}
    if hours % 24 == 0:
        return days
    return _("%(days)s %(h)d h") % {"days": days, "h": hours % 24}


def countdown_display(seconds: int | None) -> str:
    """How long until a paused run goes on, to the second: "in 42 s", "in 2 min 05 s" (the
    panel's script counts it down in the same words)."""
    if seconds is None:
        return ""
    if seconds <= 0:
        return _("any moment now")
    minutes, rest = divmod(int(seconds), 60)
    if minutes:
        time = _("%(m)s min %(s)s s") % {"m": minutes, "s": f"{rest:02d}"}
    else:
        time = _("%(s)s s") % {"s": rest}
    return _("in %(time)s") % {"time": time}


def time_display(moment) -> str:
    """A moment today to the second ("18:02:37"): when a paused run resumes."""
    if moment is None:
        return ""
    return formats.time_format(timezone.localtime(moment), "H:i:s")


def datetime_display(moment) -> str:
    """One date style per language: the locale's short date and time."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def last_runs(integrations) -> list:
    """Integrations (a queryset) for the list, each with its last resync (`last_resync`), that
    resync's latest retry (`last_retry`) and its last drift check (`last_check`): a check or a
    retry never stands for "the last resync"."""
    newest = ResyncRun.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-pk")
    resyncs = newest.filter(kind=ResyncRun.Kind.RESYNC, retry_of__isnull=True)
    checks = newest.filter(kind=ResyncRun.Kind.CHECK)
    integrations = list(
        integrations.annotate(
            last_resync_id=Subquery(resyncs.values("pk")[:1]),
            last_check_id=Subquery(checks.values("pk")[:1]),
        )
    )
    runs = ResyncRun.objects.in_bulk(
        [pk for i in integrations for pk in (i.last_resync_id, i.last_check_id) if pk]
    )
    for integration in integrations:
        integration.last_resync = runs.get(integration.last_resync_id)
        integration.last_check = runs.get(integration.last_check_id)
        integration.last_retry = (
            integration.last_resync.latest_retry() if integration.last_resync else None
        )
    return integrations


def pace_display(pace: rates.Pace) -> str:
    """The pace as the panel and the command line show it: paused, not measured yet, or a rate."""
    if pace.paused:
        return _("paused")
    if pace.per_minute is None:
        return "—"
    return _("%(rate)s offers/min") % {
        "rate": formats.number_format(round(pace.per_minute), 0, use_l10n=True)
    }


def progress_data(run: ResyncRun) -> dict:
    """The run's to_dict() plus the few values the page shows formatted and translated.

    Rate and time left are the smoothed ones (presentation/rates.py), as the command line's.
    """
    data = run.to_dict()
    now = timezone.now()
    pace = rates.pace(run, now)
    resumes_in = None
    if pace.paused:
        resumes_in = max(round((run.paused_until - now).total_seconds()), 0)
    data.update(
        {
            "rate_per_second": None if pace.per_second is None else round(pace.per_second, 1),
            "rate_per_minute": None if pace.per_minute is None else round(pace.per_minute),
            "eta_seconds": pace.eta_seconds,
            "paused": pace.paused,
            "outcome_display": run.outcome_display,
            "percent_display": str(math.floor(data["percent"])),
            "eta_display": duration_display(pace.eta_seconds, estimate=True)
            if data["active"]
            else "—",
            "rate_display": pace_display(pace),
            "started_display": datetime_display(run.started_at),
            "finished_display": datetime_display(run.finished_at),
            "duration_display": duration_display(run.elapsed_seconds),
            "paused_until_display": datetime_display(run.paused_until) if run.paused_until else "",
            # A paused run: when it goes on, to the second, and a countdown's seconds.
            "resumes_at_display": time_display(run.paused_until) if pace.paused else "",
            "resumes_in_seconds": resumes_in,
            "resumes_in_display": countdown_display(resumes_in),
            "can_resume": run.can_resume,
        }
    )
    return data

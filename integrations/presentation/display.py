"""How runs, durations and dates read for a seller — one place for the pages, the admin, the
command line and the e-mail."""

import math

from django.db.models import OuterRef, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from integrations.models import ResyncRun
from integrations.presentation import rates
from integrations.presentation.durations import duration_display
from integrations.presentation.plot import run_plot
from integrations.presentation.run_figures import run_figures


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


# Under this many seconds the time left reads to the second ("2 min 35 s"): it counts down
# evenly from poll to poll instead of standing at "3 min" and then dropping to "1 min 59 s".
TIME_LEFT_SECONDS_SHOWN = 600


def time_left_display(seconds: int | None) -> str:
    if seconds is not None and 120 <= seconds < TIME_LEFT_SECONDS_SHOWN:
        return _("%(m)d min %(s)d s") % {"m": seconds // 60, "s": seconds % 60}
    return duration_display(seconds, estimate=True)


def progress_data(run: ResyncRun, *, with_plot: bool = False) -> dict:
    """The run's live figures, the one source of the panel, the run page and every poll: the
    run's stored figures (run_figures.py) plus the pace, the channel's limit, the time left and
    (`with_plot`) the plot's geometry — all computed here at one moment from one limit
    (presentation/rates.py), so that the pace is never above the limit line and the time left
    does not swing.
    `processed` includes the offers of the chunk under way that the channel has answered.
    """
    data = run_figures(run)
    now = timezone.now()
    limit = rates.run_limit(run)
    pace = rates.pace(run, now, limit)
    if run.is_active and run.in_flight:
        data["processed"] = min(run.processed + run.in_flight, max(run.total, run.processed))
        if run.total:
            data["percent"] = min(round(100 * data["processed"] / run.total, 1), 100.0)
    paused = run.status == ResyncRun.Status.PAUSED and bool(
        run.paused_until and run.paused_until > now
    )
    resumes_in = None
    if paused:
        resumes_in = max(round((run.paused_until - now).total_seconds()), 0)
    data.update(
        {
            "rate_per_second": None if pace.per_second is None else round(pace.per_second, 1),
            "rate_per_minute": None if pace.per_minute is None else round(pace.per_minute),
            "limit_per_minute": round(limit.per_minute) or None,
            "limit_display": _("limit %(rate)s/min")
            % {"rate": formats.number_format(round(limit.per_minute), 0, use_l10n=True)}
            if limit.per_minute
            else "",
            "eta_seconds": pace.eta_seconds,
            "paused": paused,
            "outcome_display": run.outcome_display,
            "percent_display": str(math.floor(data["percent"])),
            "eta_display": time_left_display(pace.eta_seconds) if data["active"] else "—",
            "rate_display": pace_display(pace),
            "started_display": datetime_display(run.started_at),
            "finished_display": datetime_display(run.finished_at),
            "duration_display": duration_display(run.elapsed_seconds),
            "paused_until_display": datetime_display(run.paused_until) if run.paused_until else "",
            # A paused run: when it goes on, to the second, and a countdown's seconds.
            "resumes_at_display": time_display(run.paused_until) if paused else "",
            "resumes_in_seconds": resumes_in,
            "resumes_in_display": countdown_display(resumes_in),
            "can_resume": run.can_resume,
            # The line under the bar: why the run waits (a pause: "pause"), or what sets its
            # pace while it goes ("pace"); one place, so the panel does not jump between polls.
            "note_kind": ("pause" if paused else "pace") if data["waiting_reason"] else "",
        }
    )
    if run.is_check:
        data.update(check_progress(run))
    if with_plot:
        data["plot"] = None if run.is_check else run_plot(run, now, limit)
    return data


def check_progress(run: ResyncRun) -> dict:
    """A drift check's progress in its own words: listings read of the channel's, offers
    compared of ours — not one sum of both ("3200 / 6000" for 3,000 offers)."""
    report = run.report or {}
    read = int(report.get("listings") or 0)
    listed = report.get("listings_total")
    offers = int(report.get("offers") or run.total)
    compared = min(max(run.processed - read, 0), offers)
    return {
        "listings_display": f"{read} / {max(int(listed), read)}"
        if listed is not None
        else str(read),
        "compared_display": f"{compared} / {offers}",
    }

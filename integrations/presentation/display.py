"""How runs, durations and dates read for a seller — one place for the pages, the admin, the
command line and the e-mail."""

import math

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.models import ResyncRun
from integrations.presentation import rates


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


def progress_data(run: ResyncRun) -> dict:
    """The run's to_dict() plus the few values the page shows formatted and translated.

    Rate and time left are the smoothed ones (presentation/rates.py), as the command line's.
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

"""A duration as a seller reads it (the pages, the plot, the command line, the e-mail)."""

import math

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


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

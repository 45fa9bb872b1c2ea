"""How the engine words what happened to a run, for the seller: errors and waits."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.models import Integration
from integrations.shopconnect.errors import ChannelUnavailable


def short_error(exc: BaseException, integration: Integration | None) -> str:
    """An exception as a seller may read it: its kind and first line, no secret in it."""
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    for secret in (integration.credentials or {}).values() if integration else ():
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "***")
    if text and isinstance(exc, ChannelUnavailable):
        return text  # a reason of its own, worded for the reader when shown (wording.py)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def at(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.get_current_timezone())
    return formats.time_format(timezone.localtime(moment), "H:i")


def at_second(moment: datetime) -> str:
    """A time to the second, for a pause measured in seconds."""
    return formats.time_format(timezone.localtime(moment), "H:i:s")


def hold_reason(held, *, channel: str) -> str:
    """Why the run waits, for the seller: the limit that binds and when work resumes (or the
    channel's own request, when it asked for a longer wait than xSale holds at a time)."""
    if getattr(held, "reason", ""):
        return str(held.reason)
    if held.throttled or held.budget is None or held.limit is None:
        # A 429 — this run's, or another integration's on the same budget (its block).
        return _("%(channel)s asked us to wait — continuing at %(time)s.") % {
            "channel": channel,
            "time": at(held.until),
        }
    return _("%(limit)s (%(count)s %(unit)s in %(period)s) reached — continuing at %(time)s.") % {
        **_window_words(held.budget, held.limit),
        "time": at(held.until),
    }


def pace_reason(budget, limit, *, sharing: int = 0) -> str:
    """Why a running run goes no faster: the budget whose window sets its pace, and how many
    other resyncs spend it too (issue 17: a run shows its share and why)."""
    words = _window_words(budget, limit)
    text = _("Paced by %(limit)s: %(count)s %(unit)s in %(period)s.") % words
    if sharing:
        text += " " + ngettext(
            "Its share: 1 of %(runs)s resyncs spending it.",
            "Its share: 1 of %(runs)s resyncs spending it.",
            sharing + 1,
        ) % {"runs": sharing + 1}
    return text


def _window_words(budget, limit) -> dict:
    if budget.limits and limit not in budget.limits:
        # Our own steady window (budgets.windows_of) spreads the channel's shortest window; the
        # seller reads the channel's limit ("12 requests in a minute"), not "1 in a second".
        limit = min(budget.limits, key=lambda w: w.seconds)
    window = limit.seconds
    period = (
        _("an hour")
        if window == 3600
        else _("a minute")
        if window == 60
        else _("a second")
        if window == 1
        else ngettext("%(n)s second", "%(n)s seconds", window) % {"n": window}
    )
    return {
        # The name alone: the sentence states the window ("12 requests in a minute") itself.
        "limit": budget.name or budget.label,
        "count": formats.number_format(limit.count, force_grouping=True),
        "unit": budget.unit,
        "period": period,
    }

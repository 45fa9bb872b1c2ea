"""A run's rate and time left, smoothed: the one calculation the pages and the command line show.

A run advances in chunks (hundreds of offers at once), so the raw "processed / elapsed" jumps
every time a chunk lands and says nothing about the last minutes. The rate here is the offers of
the last few minutes (from the run's per-minute `samples`) over the time those minutes span, so
a chunk landing moves it a little, and a pause (minutes without samples) slows it as it should.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

# The window the rate is measured over; long enough to span many chunks, short enough to follow
# a change of pace (a budget shared with another run, a pause) within minutes.
WINDOW_SECONDS = 300
# Below this much time in the window, the whole run's average is the better guess.
MIN_WINDOW_SECONDS = 30


@dataclass(frozen=True)
class Pace:
    per_minute: float  # offers per minute, smoothed
    eta_seconds: int | None  # None: ended, not started, or no progress yet

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def smoothed_per_minute(run, now: datetime | None = None) -> float:
    """Offers per minute over the last WINDOW_SECONDS of the run (or its end)."""
    if not run.started_at:
        return 0.0
    end = _ts(run.finished_at or now or timezone.now())
    start = _ts(run.started_at)
    elapsed = end - start
    if elapsed <= 0:
        return 0.0
    window_start = max(start, end - WINDOW_SECONDS)
    span = end - window_start
    samples = run.samples or []
    if not samples or span < MIN_WINDOW_SECONDS:
        return run.processed / elapsed * 60
    offers = 0.0
    for minute, count in samples:
        minute_end = min(minute + 60, end)
        if minute_end <= window_start or minute >= end:
            continue
        covered = minute_end - max(minute, window_start)
        offers += count * covered / max(minute_end - minute, 1)
    return offers / span * 60


def pace(run, now: datetime | None = None) -> Pace:
    now = now or timezone.now()
    per_minute = smoothed_per_minute(run, now)
    eta = None
    if run.is_active and per_minute > 0:
        remaining = max(run.total - run.processed, 0)
        eta = remaining / per_minute * 60
        if run.paused_until and run.paused_until > now:
            eta += (run.paused_until - now).total_seconds()
        eta = round(eta)
    return Pace(per_minute=per_minute, eta_seconds=eta)

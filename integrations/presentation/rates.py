"""A run's rate and time left, smoothed: the one calculation the pages and the command line show.

A run advances in chunks (hundreds of offers at once), so the raw "processed / elapsed" jumps
every time a chunk lands and says nothing about the last minutes. The rate here is the offers of
the last few minutes of work (from the run's per-minute `samples`) over the working time those
minutes span. Pauses (`ResyncRun.pauses`: a spent budget, the channel asking us to wait) are not
working time: they do not dilute the rate — the time left adds the pause still to come instead,
so a pause never counts twice and the time left does not jump up while the run waits.

Until the run has worked MIN_MEASURE_SECONDS there is nothing to measure: no rate, no time
left (39 offers sent in half a second are not "5,000 offers a minute").
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

# The working time the rate is measured over; long enough to span many chunks, short enough to
# follow a change of pace (a budget shared with another run) within minutes.
WINDOW_SECONDS = 300
# Below this much working time in the window, the whole run's average is the better guess.
MIN_WINDOW_SECONDS = 30
# Below this much working time in the whole run, there is no rate at all.
MIN_MEASURE_SECONDS = 5


@dataclass(frozen=True)
class Pace:
    per_minute: float | None  # offers per minute, smoothed; None: not enough to measure
    eta_seconds: int | None  # None: ended, not started, or nothing measured yet
    paused: bool = False  # waiting until `paused_until`: the pace is "paused", not a rate

    @property
    def per_second(self) -> float | None:
        return None if self.per_minute is None else self.per_minute / 60


def _pauses(run, start: float, end: float) -> list[tuple[float, float]]:
    """The run's pauses within [start, end], in order, not overlapping."""
    clipped = sorted(
        (max(float(a), start), min(float(b), end))
        for a, b in (run.pauses or [])
        if float(b) > start and float(a) < end
    )
    merged: list[tuple[float, float]] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def working_seconds(run, start: float, end: float) -> float:
    """Seconds between `start` and `end` the run was not paused."""
    return max(end - start, 0.0) - sum(b - a for a, b in _pauses(run, start, end))


def _window_start(run, start: float, end: float) -> float:
    """Where the last WINDOW_SECONDS of working time begin (pauses stretch the window back)."""
    need, t = float(WINDOW_SECONDS), end
    for a, b in reversed(_pauses(run, start, end)):
        if t - b >= need:
            break
        need -= max(t - b, 0.0)
        t = min(t, a)
    return max(start, t - need)


def smoothed_per_minute(run, now: datetime | None = None) -> float | None:
    """Offers per minute over the last WINDOW_SECONDS of the run's working time, or None."""
    if not run.started_at:
        return None
    end = (run.finished_at or now or timezone.now()).timestamp()
    start = run.started_at.timestamp()
    worked = working_seconds(run, start, end)
    if worked < MIN_MEASURE_SECONDS or not run.processed:
        return None
    window_start = _window_start(run, start, end)
    span = working_seconds(run, window_start, end)
    samples = run.samples or []
    if not samples or span < MIN_WINDOW_SECONDS:
        return run.processed / worked * 60
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
    pause_left = 0.0
    if run.is_active and run.paused_until and run.paused_until > now:
        pause_left = (run.paused_until - now).total_seconds()
    paused = run.status == run.Status.PAUSED and pause_left > 0
    eta = None
    if run.is_active and per_minute:
        remaining = max(run.total - run.processed, 0)
        eta = round(remaining / per_minute * 60 + pause_left)
    return Pace(per_minute=per_minute, eta_seconds=eta, paused=paused)

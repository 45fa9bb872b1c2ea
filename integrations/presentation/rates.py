"""A run's pace, the channel's limit and the time left: the one calculation the run page, the
progress panel and its polls (presentation/display.py:progress_data) and the command line show.

The run's progress is a curve: offers done over time, a point every few seconds while a chunk
goes (`ResyncRun.progress_points`, written by engine/resync_chunk.py; runs recorded before it
have their per-minute `samples`, spread over each minute).

- **Pace**: offers a minute over the last WINDOW_SECONDS of working time, never above the
  channel's limit (the most its budgets allow, the plot's limit line): a chunk of 1,200 offers
  sent in the first 12 seconds of a minute is not "6,000 offers/min" when the shop allows 12
  requests of 100 offers a minute.
- **Working time**: a pause longer than SHORT_PAUSE_SECONDS (a budget's hour spent, the
  channel asking us to wait) is not working time — it does not dilute the pace, and the time
  left adds what is still to come of it instead, so a pause never counts twice. A shorter pause
  is a minute's budget filling up again: it is part of the pace itself.
- **Time left**: what remains after where the run would be now, by each of the last
  PROJECTION_SECONDS' positions carried forward at the pace, averaged. A run that goes in
  bursts (a minute's budget spent in its first seconds, then a pause) is then counted down
  evenly, second by second, instead of dropping a minute at each burst and standing still in
  between; a steady run's time left is simply what remains over the pace.

Until the run has worked MIN_MEASURE_SECONDS there is nothing to measure: no pace, no time left
(39 offers sent in half a second are not "5,000 offers a minute").
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from integrations.shopconnect import budgets as channel_budgets

# The working time the pace is measured over: two minutes' windows of a budget, long enough to
# hold several chunks and bursts, short enough to follow a change of share within minutes.
WINDOW_SECONDS = 120
# The time left averages the positions of this span carried forward: one budget minute.
PROJECTION_SECONDS = 60
# A pause up to this long is a budget's minute refilling (part of the pace); longer ones are
# waits of their own, out of the working time.
SHORT_PAUSE_SECONDS = 75
# The ends of the pace's window are averaged over this many seconds (progress is written every
# couple of seconds: a window's end falling just before or after a point must not matter).
EDGE_SECONDS = 10.0
# Below this much working time there is no pace at all.
MIN_MEASURE_SECONDS = 5


# --- the channel's limit --------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelLimit:
    """The most offers a minute the channel's budgets allow an integration, and how that comes
    from what the channel counts: WooCommerce counts requests, each a batch of 100 offers, so
    60 requests/min are 6,000 offers/min — the unit of the plot's bars and of the pace."""

    per_minute: float  # offers per minute
    units_per_minute: float = 0.0  # of the binding budget: requests, edits, …
    unit: str = ""
    offers_per_unit: int = 1  # offers one unit carries (a batch's size)


def channel_limit(integration, data_types: str = "all") -> ChannelLimit:
    """Per minute, as the bars count: the shortest window's pace of the budget that binds
    (Allegro: 2,490 edits in a minute, though its hour allows 1,245 a minute on average).
    Where offers go by two paths at once (Allegro's prices and stock: PATCH beside the
    commands), that pair's line is the sum of both paths."""
    costs = integration.facts.offer_cost(data_types)
    budgets = channel_budgets.budgets_for(integration)

    def units_per_minute(budget) -> float:
        window = min(budget.limits, key=lambda w: w.seconds)
        return window.count / window.seconds * 60

    limits = []
    for name, budget in budgets.items():
        if name not in costs or not budget.limits:
            continue
        units = units_per_minute(budget)
        limits.append(
            ChannelLimit(
                per_minute=units / costs[name],
                units_per_minute=units,
                unit=budget.unit,
                offers_per_unit=max(round(1 / costs[name]), 1) if costs[name] < 1 else 1,
            )
        )
    paths = integration.facts.parallel_paths.get(data_types)
    if paths and all(budgets.get(name) and budgets[name].limits for name in (paths[0], *paths[1])):
        first = units_per_minute(budgets[paths[0]])
        second = min(units_per_minute(budgets[name]) for name in paths[1])
        limits.append(ChannelLimit(per_minute=first + second, units_per_minute=first + second))
    return min(limits, key=lambda limit: limit.per_minute, default=ChannelLimit(0.0))


def run_limit(run) -> ChannelLimit:
    """The limit a run's pace is held to and its plot draws (none for a check: it reads)."""
    if run.is_check:
        return ChannelLimit(0.0)
    return channel_limit(run.integration, run.data_types)


# --- the pace and the time left -------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    per_minute: float | None  # offers per minute, smoothed; None: not enough to measure
    eta_seconds: int | None  # None: ended, not started, or nothing measured yet
    paused: bool = False  # in a long pause until `paused_until`: "paused", not a rate
    limit_per_minute: float = 0.0  # the channel's limit the pace is held to (0: none known)
    at_limit: bool = False  # the run goes as fast as the limit lets it

    @property
    def per_second(self) -> float | None:
        return None if self.per_minute is None else self.per_minute / 60


def _merged(intervals) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _pauses(run, start: float, end: float) -> list[tuple[float, float]]:
    """The run's pauses within [start, end], in order, not overlapping."""
    return _merged(
        (max(float(a), start), min(float(b), end))
        for a, b in (run.pauses or [])
        if float(b) > start and float(a) < end
    )


def working_seconds(run, start: float, end: float) -> float:
    """Seconds between `start` and `end` the run was not paused (every recorded pause)."""
    return max(end - start, 0.0) - sum(b - a for a, b in _pauses(run, start, end))


class _WorkClock:
    """Wall time → working time: long pauses (over SHORT_PAUSE_SECONDS) taken out."""

    def __init__(self, run, end: float):
        self.long = _merged(
            (float(a), min(float(b), end))
            for a, b in (run.pauses or [])
            if float(b) - float(a) > SHORT_PAUSE_SECONDS and float(a) < end
        )

    def __call__(self, t: float) -> float:
        return t - sum(max(0.0, min(b, t) - a) for a, b in self.long if a < t)


def progress_curve(run, now: float) -> list[tuple[float, float]]:
    """(unix time, offers done) from the run's start to `now`, in time order."""
    start = run.started_at.timestamp()
    done = run.processed + (run.in_flight if run.is_active else 0)
    curve = [(start, 0.0)]
    if run.progress_points:
        for t, offers in sorted(run.progress_points):
            t = min(max(float(t), curve[-1][0]), now)
            curve.append((t, max(float(offers), curve[-1][1])))
    else:  # recorded before progress points: each minute's offers spread over that minute
        total = 0.0
        for minute, count in sorted(run.samples or []):
            a = max(float(minute), curve[-1][0])
            b = min(max(float(minute) + 60, a), now)
            curve.append((a, total))
            total += float(count)
            curve.append((b, total))
    if curve[-1][1] < done:  # counted without a point (a run of an older version): evenly
        curve.append((max(now, curve[-1][0]), float(done)))
    curve.append((max(now, curve[-1][0]), curve[-1][1]))
    # Nothing goes during a pause: the offers after it were not made while it lasted.
    for a, b in _pauses(run, start, now):
        before = [offers for t, offers in curve if t <= a]
        held = before[-1] if before else 0.0
        curve += [(a, held), (b, held)]
    curve.sort(key=lambda point: point[0])
    flat, most = [], 0.0
    for t, offers in curve:
        most = max(most, offers)
        flat.append((t, most))
    return flat


class _Progress:
    """Offers done at a moment of working time, linear between the curve's points."""

    def __init__(self, curve, clock):
        self.at = [clock(t) for t, _ in curve]
        self.offers = [offers for _, offers in curve]

    def __call__(self, w: float) -> float:
        i = bisect_right(self.at, w)
        if i == 0:
            return self.offers[0]
        if i >= len(self.at):
            return self.offers[-1]
        a, b = self.at[i - 1], self.at[i]
        if b <= a:
            return self.offers[i]
        return self.offers[i - 1] + (self.offers[i] - self.offers[i - 1]) * (w - a) / (b - a)


def pace(run, now: datetime | None = None, limit: ChannelLimit | None = None) -> Pace:
    """The run's pace and time left at `now` (module docstring); `limit` as run_limit(run)."""
    now = now or timezone.now()
    limit = run_limit(run) if limit is None else limit
    if not run.started_at:
        return Pace(None, None, limit_per_minute=limit.per_minute)
    end = (run.finished_at or now).timestamp()
    clock = _WorkClock(run, end)
    progress = _Progress(progress_curve(run, end), clock)
    w_end, w_start = clock(end), clock(run.started_at.timestamp())
    worked = w_end - w_start
    done = progress(w_end)
    pause_left, long_pause = 0.0, False
    if run.is_active and run.paused_until and run.paused_until > now:
        pause_left = (run.paused_until - now).total_seconds()
        began = max((float(a) for a, _b in (run.pauses or [])), default=now.timestamp())
        long_pause = run.paused_until.timestamp() - began > SHORT_PAUSE_SECONDS
    paused = run.status == run.Status.PAUSED and long_pause
    if worked < MIN_MEASURE_SECONDS or not done:
        return Pace(None, None, paused=paused, limit_per_minute=limit.per_minute)
    w_measured = w_end
    if run.is_active and not run.progress_points and run.samples:
        # A run of an older version writes a minute's sample only when a chunk ends: the
        # minute under way has none yet, so its pace is measured up to the last one written.
        last = max(float(minute) for minute, _count in run.samples) + 60
        w_measured = min(w_end, max(clock(last), w_start + MIN_MEASURE_SECONDS))
    span = min(float(WINDOW_SECONDS), w_measured - w_start)
    # Each end of the window is the average of its last EDGE_SECONDS: a point written a
    # second later does not make the pace jump from one poll to the next.
    edge = min(EDGE_SECONDS, span / 4)

    def around(w: float) -> float:
        if not edge:
            return progress(w)
        return sum(progress(w - edge * k / 10) for k in range(11)) / 11

    measured = (around(w_measured) - around(w_measured - span)) / span * 60
    per_minute = measured
    if limit.per_minute > 0:
        per_minute = min(measured, limit.per_minute)
    at_limit = limit.per_minute > 0 and measured >= limit.per_minute * 0.95
    eta = None
    if run.is_active and per_minute > 0:
        reach = min(float(PROJECTION_SECONDS), worked)
        steps = max(int(reach), 1)
        carried = [progress(w_end - reach * k / steps) + per_minute / 60 * reach * k / steps
                   for k in range(steps + 1)]  # fmt: skip
        where = min(sum(carried) / len(carried), float(run.total))
        remaining = max(run.total - where, 0.0)
        eta = round(remaining / per_minute * 60 + (pause_left if long_pause else 0.0))
        if run.processed < run.total:
            eta = max(eta, 1)
    return Pace(
        per_minute=per_minute,
        eta_seconds=eta,
        paused=paused,
        limit_per_minute=limit.per_minute,
        at_limit=at_limit,
    )


def smoothed_per_minute(run, now: datetime | None = None) -> float | None:
    """Offers per minute over the run's last working minutes, held to the channel's limit."""
    return pace(run, now).per_minute

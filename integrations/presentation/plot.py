"""The plot on a run's page: offers per minute over the run against the channel's limit.

Drawn on the server as SVG geometry for templates/resync/_plot.html: no script, nothing inline
but SVG attributes, styled by components.css. Minutes without progress (a pause, a wait for a
budget, no worker) are drawn as shaded gaps, and so are the run's recorded pauses
(`ResyncRun.pauses`) to the second, however short: three 40-second pauses are three marks and
2 minutes without progress, not "0 minutes".
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from integrations.presentation.display import duration_display
from integrations.shopconnect import budgets as channel_budgets

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34
# Beyond this many minutes, minutes are put together in buckets (averaged per minute).
MAX_BARS = 180


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


def channel_limit_per_minute(integration, data_types: str = "all") -> float:
    """The plot's limit line, in offers per minute."""
    return channel_limit(integration, data_types).per_minute


def _merged(intervals):
    merged = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    per_minute: float
    paused: bool


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def run_plot(run, now=None) -> dict | None:
    """The plot's geometry, or None before the run has any progress to show."""
    samples = sorted((int(m), int(n)) for m, n in (run.samples or []))
    if not samples or not run.started_at:
        return None
    now = now or timezone.now()
    first = min(samples[0][0], int(run.started_at.timestamp()) // 60 * 60)
    end = (run.finished_at or now).timestamp()
    last = max(samples[-1][0], int(end - 1) // 60 * 60)  # the minute holding the end
    minutes = (last - first) // 60 + 1
    bucket = max(1, math.ceil(minutes / MAX_BARS))
    counts = dict(samples)
    buckets = []
    for start in range(first, last + 1, 60 * bucket):
        seen = [counts[m] for m in range(start, start + 60 * bucket, 60) if m in counts]
        buckets.append((start, sum(seen) / bucket, not seen))
    channel = channel_limit(run.integration, run.data_types)
    limit = channel.per_minute
    peak = max(value for _, value, _ in buckets)
    y_max = _nice_ceiling(max(peak, limit) * 1.05)
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    slot = inner_w / len(buckets)
    gap = min(1.0, slot * 0.2)
    bars = []
    for index, (_start, value, paused) in enumerate(buckets):
        height = inner_h if paused else inner_h * value / y_max
        bars.append(
            Bar(
                x=round(LEFT + index * slot, 2),
                y=round(TOP + inner_h - height, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(height, 2),
                per_minute=round(value),
                paused=paused,
            )
        )
    limit_y = round(TOP + inner_h - inner_h * min(limit, y_max) / y_max, 2)
    # Pauses to the second: the recorded ones, where no empty minute already shows them.
    seconds_per_slot = 60 * bucket
    empty = [(start, start + seconds_per_slot) for start, _v, paused in buckets if paused]
    lo, hi = run.started_at.timestamp(), end
    recorded = [
        (max(float(a), lo), min(float(b), hi))
        for a, b in (run.pauses or [])
        if float(b) > lo and float(a) < hi
    ]
    marks = []
    for a, b in _merged(recorded):
        if any(e0 <= a and b <= e1 for e0, e1 in empty):
            continue
        x = LEFT + (a - first) / seconds_per_slot * slot
        marks.append(
            {
                "x": round(x, 2),
                "width": round(max((b - a) / seconds_per_slot * slot, 1.5), 2),
                "seconds": round(b - a),
            }
        )
    no_progress = _merged(empty + recorded)
    tz = timezone.get_current_timezone()

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + inner_h,
        "bars": bars,
        "limit": round(limit),
        "limit_y": limit_y,
        "limit_label_y": max(limit_y - 4, TOP + 10),
        "y_max": round(y_max),
        "y_mid": round(y_max / 2),
        "mid_y": TOP + inner_h / 2,
        "axis_label_y": TOP + inner_h + 20,
        "minutes_per_bar": bucket,
        "start": datetime.fromtimestamp(first, tz),
        "end": datetime.fromtimestamp(last + 60, tz),
        "pause_marks": marks,
        "pause_top": TOP,
        "pause_height": inner_h,
        "pause_count": len(no_progress),
        "paused_seconds": round(sum(b - a for a, b in no_progress)),
        "paused_display": duration_display(sum(b - a for a, b in no_progress)),
        "peak": round(peak),
        "limit_units": round(channel.units_per_minute),
        "limit_unit": channel.unit,
        "limit_batch": channel.offers_per_unit,
    }

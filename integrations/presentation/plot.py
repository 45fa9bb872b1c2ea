"""The plot on a run's page: offers per minute over the run against the channel's limit.

Drawn on the server as SVG geometry for templates/resync/_plot.html: no script, nothing inline
but SVG attributes, styled by components.css. Minutes without progress (a pause, a wait for a
budget, no worker) are drawn as shaded gaps.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from integrations.shopconnect import budgets as channel_budgets

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34
# Beyond this many minutes, minutes are put together in buckets (averaged per minute).
MAX_BARS = 180


def channel_limit_per_minute(integration) -> float:
    """The most offers a minute the channel's budgets allow this integration: the plot's limit
    line. Per minute, as the bars count: the shortest window's pace (Allegro: 2,490 edits in a
    minute, though its hour allows 1,245 a minute on average)."""
    costs = integration.facts.offer_cost("all")
    paces = [
        min(budget.limits, key=lambda w: w.seconds).count
        / min(budget.limits, key=lambda w: w.seconds).seconds
        * 60
        / costs[name]
        for name, budget in channel_budgets.budgets_for(integration).items()
        if name in costs and budget.limits
    ]
    return min(paces, default=0.0)


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
    limit = channel_limit_per_minute(run.integration)
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
        "paused_minutes": sum(bucket for b in bars if b.paused),
        "peak": round(peak),
    }

"""The plot on a run's page: offers per minute over the run against the channel's limit.

Drawn on the server as SVG geometry for templates/resync/_plot.html: no script, nothing inline
but SVG attributes, styled by components.css. The run's pauses (`ResyncRun.pauses`: a spent
budget, the channel asking us to wait) are bands to the second, however short, drawn under the
bars in the legend's colour: three 40-second pauses are three bands and 2 minutes, not
"0 minutes". Only recorded pauses are shaded: a minute without offers and without a pause (the
run's first seconds, a queue) is a bar of 0, not a pause. The limit line is the one the pace is
held to (presentation/rates.py); the page draws it from the same figures as the pace.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from integrations.presentation.durations import duration_display
from integrations.presentation.rates import ChannelLimit, channel_limit, run_limit

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34
# Beyond this many minutes, minutes are put together in buckets (averaged per minute).
MAX_BARS = 180


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


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def run_plot(run, now=None, limit: ChannelLimit | None = None) -> dict | None:
    """The plot's geometry, or None before the run has any progress to show. `limit`: the
    run's limit as its pace has it (rates.run_limit), so that the two never differ."""
    samples = sorted((int(m), int(n)) for m, n in (run.samples or []))
    if not any(n for _m, n in samples) or not run.started_at:
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
        buckets.append((start, sum(seen) / bucket))
    channel = run_limit(run) if limit is None else limit
    peak = max(value for _, value in buckets)
    y_max = _nice_ceiling(max(peak, channel.per_minute) * 1.05)
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    slot = inner_w / len(buckets)
    gap = min(1.0, slot * 0.2)
    bars = []
    for index, (_start, value) in enumerate(buckets):
        height = inner_h * value / y_max
        bars.append(
            Bar(
                x=round(LEFT + index * slot, 2),
                y=round(TOP + inner_h - height, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(height, 2),
                per_minute=round(value),
            )
        )
    limit_y = round(TOP + inner_h - inner_h * min(channel.per_minute, y_max) / y_max, 2)
    # The recorded pauses, to the second; one still going ends now.
    seconds_per_slot = 60 * bucket
    right_edge = first + len(buckets) * seconds_per_slot  # where the last bar ends
    lo, hi = run.started_at.timestamp(), min(end, now.timestamp(), right_edge)
    pauses = _merged(
        (max(float(a), lo), min(float(b), hi))
        for a, b in (run.pauses or [])
        if float(b) > lo and float(a) < hi
    )
    bands = [
        {
            "x": round(LEFT + (a - first) / seconds_per_slot * slot, 2),
            "width": round(max((b - a) / seconds_per_slot * slot, 1.5), 2),
            "seconds": round(b - a),
        }
        for a, b in pauses
    ]
    tz = timezone.get_current_timezone()

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + inner_h,
        "bars": bars,
        "limit": round(channel.per_minute),
        "limit_y": limit_y,
        "limit_label_y": max(limit_y - 4, TOP + 10),
        "y_max": round(y_max),
        "y_mid": round(y_max / 2),
        "mid_y": TOP + inner_h / 2,
        "axis_label_y": TOP + inner_h + 20,
        "minutes_per_bar": bucket,
        "start": datetime.fromtimestamp(first, tz),
        "end": datetime.fromtimestamp(last + 60, tz),
        "pause_marks": bands,
        "pause_top": TOP,
        "pause_height": inner_h,
        "pause_count": len(pauses),
        "paused_seconds": round(sum(b - a for a, b in pauses)),
        "paused_display": duration_display(sum(b - a for a, b in pauses)),
        "peak": round(peak),
        "limit_units": round(channel.units_per_minute),
        "limit_unit": channel.unit,
        "limit_batch": channel.offers_per_unit,
    }

"""Counting what a budget's windows saw, the way a channel counts: shared by the budget tests."""

import math


def most_in_any_window(times, seconds):
    """The most of `times` in any window [t, t + seconds) — how a sliding count sees them."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def most_in_a_fixed_window(times, seconds, offset=0.0):
    """The most of `times` in one fixed window, windows starting at `offset` (Zalando)."""
    counts = {}
    for at in times:
        key = math.floor((at - offset) / seconds)
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values())


def most_units_in_any_window(moments, limit):
    """The most units of `moments` ((at, units) pairs) in any sliding window of `limit`'s
    length; a spend larger than a window counts as that window's whole count (budgets.py)."""
    moments = sorted((at, min(units, limit.count)) for at, units in moments)
    most, first, total = 0, 0, 0
    for at, units in moments:
        total += units
        while moments[first][0] <= at - limit.seconds:
            total -= moments[first][1]
            first += 1
        most = max(most, total)
    return most


def run_in_processes(context, calls, timeout=60):
    """Start a process of `context` for each (target, args), wait for all: each must end well."""
    workers = [context.Process(target=target, args=args) for target, args in calls]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
        assert worker.exitcode == 0

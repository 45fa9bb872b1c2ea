"""How long channel budgets take to spend a number of requests, for estimates and for sharing a
run between two paths (Allegro: PATCH beside the price and quantity commands): the same windows
and slots as integrations/shopconnect/budgets.py spends by."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from integrations.channels import Limit
from integrations.shopconnect.budgets import slots_of, span_of


def seconds_to_spend(units: float, limits: Sequence[Limit]) -> float:
    """How long `units` take under these windows from a fresh budget (for estimates).

    The shortest window sets the pace; each longer window lets its count through at that pace
    and then holds the rest until the window has passed (Allegro: 74,700 edits in the first
    half hour, then a wait until the hour is over).
    """
    if units <= 0 or not limits:
        return 0.0
    ordered = sorted(limits, key=lambda w: w.seconds)
    effective = [(w.count * slots_of(w) / span_of(w), w.seconds) for w in ordered]
    count, seconds = effective[0]
    total = units / (count / seconds)
    for count, seconds in effective[1:]:
        full = math.ceil(units / count) - 1
        if full > 0:
            rest = units - full * count
            pace = seconds_to_spend(rest, [w for w in ordered if w.seconds < seconds])
            total = max(total, full * seconds + pace)
    return total


def balanced_split(
    units: int, first: Sequence[Limit], others: Sequence[Sequence[Limit]]
) -> tuple[int, float]:
    """Share `units` between two paths that run side by side: the first (its windows) and the
    second, which needs all of `others` (each its own budget, spent together). Returns the
    units the first path takes and the seconds both then need — the least that any split
    allows (Allegro: PATCH beside the price and quantity commands)."""

    def second(n: int) -> float:
        return max((seconds_to_spend(n, limits) for limits in others), default=0.0)

    low, high = 0, units  # first(k) grows with k, second(units - k) shrinks: bisect
    while low < high:
        k = (low + high) // 2
        if seconds_to_spend(k, first) < second(units - k):
            low = k + 1
        else:
            high = k
    best = min(
        (max(seconds_to_spend(k, first), second(units - k)), k) for k in {max(low - 1, 0), low}
    )
    return best[1], best[0]


def cheapest_split(
    units: int,
    cost: Callable[[int], Mapping[str, float]],
    limits: Mapping[str, Sequence[Limit]],
) -> tuple[int, float]:
    """Share `units` between two paths that run side by side when each path's cost is not one
    budget's count: `cost(k)` gives what the run spends in every budget (by name) when `k`
    units go by the first path and the rest by the second — each request of either path
    included (Allegro: a command's PUT and its report read in the application's budget).
    Returns the `k` whose slowest budget finishes soonest, and those seconds.

    The cost need not be monotone in `k` (moving an offer whose price no other offer shares
    saves a command; moving one of a large group saves none), so `k` is scanned — coarsely,
    then one by one around the best."""

    def seconds(k: int) -> float:
        spent = cost(k)
        return max(
            (
                seconds_to_spend(spent[name], windows)
                for name, windows in limits.items()
                if name in spent
            ),
            default=0.0,
        )

    step = max(1, units // 2_000)
    best = min((seconds(k), k) for k in range(0, units + 1, step))
    if step > 1:
        near = range(max(0, best[1] - step), min(units, best[1] + step) + 1)
        best = min(best, min((seconds(k), k) for k in near))
    return best[1], best[0]

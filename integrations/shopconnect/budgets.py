"""Channel budgets: how much of a channel's limits may be spent, and when — for every process.

A budget is what a channel counts (Allegro: the application's client id over all its sellers,
and each seller over all apps; Zalando: the merchant; a WooCommerce shop; our own limit per
integration), with one or more windows ("at most 2,490 in any minute and 74,700 in any
hour"). A request spends from every budget it counts against, atomically: all or none.

Why not a rate-limiting library: pyrate-limiter 4 (GCRA in Redis, logs in SQLite/PostgreSQL)
and `limits` 5 (moving windows in Redis, no SQL store) both check one key at a time, so a
request that must fit the application's, the seller's and the integration's budgets at once
would spend from one and then wait on the other — and a spend recorded earlier than the
request really went breaks the window it was counted in. A token bucket (GCRA) also cannot
give both Allegro's minute pace and its full hourly allowance: a burst big enough for a short
run at 2,490/min halves the long-run rate. So this module keeps its own small algorithm:

- Each window is cut into S slots (120; 200 for a one-second window; 1,200 for a window of
  at most FEW_UNITS and at least FINE_SECONDS). A spend goes in slot j when slots j−S … j
  (and a margin of 1% of the window, 40 ms to 1 s, for requests that arrive late) hold room
  for it. Any real window of
  the channel's length — sliding or fixed, whatever its alignment — lies within those slots,
  so it never sees more than the limit; the price is the margin and a slot: 96–99% of the
  limit is used.
- A spend is reserved in the earliest slot where every span of slots around it keeps room
  (checked across the reservations already made ahead), so a spender waiting on one budget
  never holds back another spender of a shared budget that could go earlier: Allegro's
  quantity commands waiting on their own budget leave the application's budget to the PATCHes
  in front of them. A reservation is never moved, and a later spender only takes room an
  earlier one could not use (another of its budgets held it): waiting spenders are served
  first come, first served — across runs, processes and machines, without polling.
- A channel's 429 blocks the budgets the throttled request spent until its Retry-After: every
  spender of that budget (every integration on one Allegro client id) waits, not one. At most
  CHANNEL_MAX_HOLD_SECONDS at a time, and only budgets of that channel's hosts: every key names
  the hosts its integrations talk to, so a host that is not the channel (an integration pointed
  elsewhere with a real client id) never shares nor holds the real channel's budgets.

Priority (DESIGN §5a: everyday changes go first, inside the same budgets). Every spend has a
`Priority` — a zero stock, other stock, a price, content, then runs (resyncs, retries, drift
checks, fixes, connection tests: `RUN`, the default) — set around the caller's code by
`spending_as` (a context variable: pools that spend on a caller's behalf run their jobs in a
copy of its context). Reservations stay first come, first served and are never moved, so a
spend leaves room for the classes before it instead (`room_kept`): in every span of slots
ending d seconds ahead it keeps free PRIORITY_ROOM × the window's average rate × d units (a
run all of it, everyday classes a part, a zero stock none), up to a cap. A change finds room
about 1 / (PRIORITY_ROOM × rate) seconds ahead (a quarter of a second at Allegro's 2,490 edits
a minute), ahead of everything runs booked further out, and every run spend after it leaves
that room again: the runs yield what the changes take and keep the rest. Nothing is published
but the reservations themselves, so every process and machine sees the same priority; and
priority only ever tightens a check, so no window ever sees more than its limit. The price: a
run booking at full pace with no change about never gets back the room it keeps at its
frontier (every slot lies in a span that ends there) — the cap, about 1.5–2 % of its pace
(bench/README.md, "Priority"). Keeping room only while changes are about would cost nothing
then, and make the first change after a quiet spell wait behind the runs' bookings.

Stores keep the same JSON per budget key: Redis (REDIS_URL; WATCH/MULTI transactions) or,
in the embedded setup, a SQLite file beside the database (one IMMEDIATE transaction per spend;
the file is shared by the worker processes of one machine — beyond one machine, use Redis).
"""

from __future__ import annotations

import contextvars
import enum
import hashlib
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from integrations.channels import Limit, descriptor

# The stores keep every budget's state (re-exported: callers reach them as budgets.store()).
from integrations.shopconnect.budget_stores import (  # noqa: F401
    RedisStore,
    SQLiteStore,
    reset_store,
    store,
)


class Priority(enum.IntEnum):
    """Who goes first in a budget: lower first (DESIGN §5a)."""

    ZERO_STOCK = 0  # an offer's stock falls to zero: the channel must stop selling it
    STOCK = 1
    PRICE = 2
    CONTENT = 3
    RUN = 10  # resyncs, retries, drift checks, fixes, connection tests


# The room a spend leaves ahead for the classes before it: per second of lead (from now to a
# span's last slot), PRIORITY_ROOM of the window's average rate — a run all of it, everyday
# classes a part (_CLASS_SHARE) — up to the lead of PRIORITY_LEAD seconds, how far ahead runs
# book (http.MAX_BUDGET_WAIT), or a tenth of a channel's window (LEAD_SHARE), whichever is
# shorter; our steady one-second window up to STEADY_LEAD. Allegro's 2,490 edits a minute:
# 4 units a second of lead, at most 24 — a change finds room a quarter of a second ahead.
PRIORITY_ROOM = 0.1
PRIORITY_LEAD = 10.0
LEAD_SHARE = 0.1
STEADY_LEAD = 0.5
_CLASS_SHARE = {
    Priority.ZERO_STOCK: 0.0,
    Priority.STOCK: 0.25,
    Priority.PRICE: 0.5,
    Priority.CONTENT: 0.75,
    Priority.RUN: 1.0,
}


@dataclass(frozen=True)
class Room:
    """Room kept free for the classes before a spend's: `rate` units per second of lead, at
    most `most` units."""

    rate: float = 0.0
    most: int = 0


NO_ROOM = Room()


def room_kept(priority: Priority, limit: Limit, *, steady: bool = False) -> Room:
    """The room a spend of `priority` keeps in `limit`'s window; `steady`: our own one-second
    window beside the channel's (windows_of), which keeps the room of its whole span."""
    rate = PRIORITY_ROOM * _CLASS_SHARE[Priority(priority)] * limit.count / limit.seconds
    lead = STEADY_LEAD if steady else min(PRIORITY_LEAD, LEAD_SHARE * limit.seconds)
    most = math.floor(rate * lead)
    return Room(rate, most) if most else NO_ROOM


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "budget_priority", default=Priority.RUN
)


@contextmanager
def spending_as(priority: Priority) -> Iterator[Priority]:
    """Spend with this priority inside the block (spend, peek; threads of pools that run
    their jobs in a copy of this context)."""
    token = _priority.set(Priority(priority))
    try:
        yield Priority(priority)
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    return _priority.get()


@dataclass(frozen=True)
class Budget:
    key: str  # what the channel counts, e.g. "allegro:app:3f2a…", "woocommerce:shop:example.pl"
    limits: tuple[Limit, ...]
    label: str  # for the seller: "Allegro's application limit"
    unit: str = "requests"
    steady: bool = True  # spread by a steady window (windows_of); off for batch budgets
    # The limit's name without its figures, for a sentence that states the window itself
    # ("the shop's limit (12 requests in a minute) reached"); empty: the label has none.
    name: str = ""


@dataclass(frozen=True)
class Grant:
    """The answer to a spend: when it may go, and what decided that."""

    at: float  # epoch seconds
    granted: bool  # recorded (the caller goes at `at`); False: nothing was spent
    budget: Budget | None = None  # the budget that set `at` (None: no wait)
    limit: Limit | None = None  # its window; None with `budget` set: a channel's block

    def wait(self) -> float:
        return max(0.0, self.at - time.time())


# The shortest window that gets a steady one-second window beside it (windows_of).
STEADY_FROM = 5


def windows_of(budget: Budget) -> tuple[Limit, ...]:
    """The budget's windows, plus a steady one: at most 1.1 × the average rate in any second.

    A fresh minute window would otherwise let its whole count go in its first slot — a burst
    of a minute's requests within a second, harsh on a small shop — and then hold every
    spender for the rest of the minute. A little above the average, the minute's count is
    spent over about 55 seconds and the waits stay short. A burst also arrives spread out by
    the connection pool, later than its moment: the next window's requests would meet it. So
    every window of STEADY_FROM seconds or more gets one (a "minute" shrunk to 6 s too).
    """
    if not budget.steady or not budget.limits:
        return budget.limits
    if min(w.seconds for w in budget.limits) < STEADY_FROM:
        return budget.limits
    shortest = min(budget.limits, key=lambda w: w.seconds)
    return (*budget.limits, Limit(max(1, math.ceil(1.1 * shortest.count / shortest.seconds)), 1))


# Windows of at most this many units, and at least this long, are cut into FINE_SLOTS: a
# spend's room comes back a 1,200th of the window after it (plus the margin), not a 120th —
# Amazon's 5 listings feeds in 5 minutes: 301–301.25 s after a feed, not 302.5–305 s. Few
# units keep few slots filled. A shorter window keeps its coarser slots: its margin (40 ms
# up) is of the order of a loaded machine's jitter, and a slot's width adds to it.
FEW_UNITS = 60
FINE_SECONDS = 60
FINE_SLOTS = 1_200


def slots_of(limit: Limit) -> int:
    if limit.seconds <= 1:
        return 200
    if limit.count <= FEW_UNITS and limit.seconds >= FINE_SECONDS:
        return FINE_SLOTS
    return 120


def margin_of(limit: Limit) -> float:
    """How late a request may arrive after its moment and still fit the window: 1% of the
    window, 40 ms to 1 s (a thread waking late, network jitter)."""
    return max(0.04, min(1.0, 0.01 * limit.seconds))


def span_of(limit: Limit) -> int:
    """Slots a window's check covers: S + 1, plus the margin for requests that arrive late."""
    width = limit.seconds / slots_of(limit)
    return slots_of(limit) + 1 + math.ceil(margin_of(limit) / width)


def late_tolerance(spends: Sequence[tuple[Budget, int]]) -> float:
    """How late after its moment a request may still go: the margin of the tightest of the
    channel's windows it counts against (the steady window is ours, not the channel's)."""
    return min((margin_of(w) for budget, _ in spends for w in budget.limits), default=math.inf)


def _window(state: dict, limit: Limit) -> dict:
    window = state.setdefault("w", {}).setdefault(f"{limit.count}/{limit.seconds}", {})
    slots = slots_of(limit)
    # Kept before the window had its slot count (120, 200 for a second): recut, each spend
    # in the last new slot of its old one — never earlier than it went.
    before = window.get("n") or (200 if limit.seconds <= 1 else 120)
    if before != slots and window.get("slots"):
        recut: dict[str, int] = {}
        for key, n in window["slots"].items():
            j = str(math.ceil((int(key) + 1) * slots / before - 1e-9) - 1)
            recut[j] = recut.get(j, 0) + n
        window["slots"] = recut
    window["n"] = slots
    return window


def _slot(at: float, width: float) -> int:
    return math.floor(at / width + 1e-9)


def _earliest(
    window: dict, limit: Limit, start: float, units: int, *, now: float = 0.0, room: Room = NO_ROOM
) -> float:
    """The first moment from `start` at which the window has room for `units`.

    Room in slot j means that every span of slots containing j — j−P+1 … j up to
    j … j+P−1 — holds at most the limit with `units` added, less the room kept for spenders
    of a higher priority: `room` units per second between `now` and the span's last slot
    (never so much that `units` could not fit an empty span). A spend reserved ahead (waiting
    for another budget) does not hold back one that can go earlier: the earlier one takes the
    room before it that its own check left, and nobody's window goes over. The slots' sums
    change only where a slot enters or leaves a span, so they are swept as intervals.
    """
    width = limit.seconds / slots_of(limit)
    span = span_of(limit)
    units = min(units, limit.count)
    first = _slot(start, width)
    changes: dict[int, int] = {}
    for key, n in window.get("slots", {}).items():
        j = int(key)
        if j > first - span and n:
            changes[j] = changes.get(j, 0) + n
            changes[j + span] = changes.get(j + span, 0) - n
    j, total = first, 0
    edges = sorted(changes)
    for i, edge in enumerate(edges):
        total += changes[edge]
        end = edges[i + 1] if i + 1 < len(edges) else None  # after the last edge: empty
        if end is None or end <= j:
            continue
        # An empty stretch always has room: the room kept never leaves less than `units`.
        free = limit.count - units - total
        over = _first_over(edge, free, width, now, room) if total else None
        if over is None or over >= end:
            continue
        if over > j + span - 1:  # this full stretch lies beyond every span containing j
            break
        j = end  # the spans containing j reach this full stretch: try after it
    return max(start, j * width)


def _first_over(edge: int, free: int, width: float, now: float, room: Room) -> int | None:
    """The first span end from `edge` whose free units (`free` once the spend is in) are
    fewer than the room kept there (room.at the lead from `now` to the span's last slot);
    None when there is none."""
    if free < 0:
        return edge
    if free + 1 > room.most:
        return None
    lead = (free + 1) / room.rate  # the room kept reaches free + 1 at this lead
    return max(edge, math.ceil((now + lead) / width - 1e-9))


def _record(window: dict, limit: Limit, now: float, at: float, units: int) -> None:
    width = limit.seconds / slots_of(limit)
    j = _slot(at, width)
    oldest = _slot(now, width) - span_of(limit)  # no later check reads a slot before it
    slots = {int(k): n for k, n in window.get("slots", {}).items() if int(k) > oldest}
    slots[j] = slots.get(j, 0) + min(units, limit.count)
    window["slots"] = {str(k): n for k, n in slots.items()}
    window.pop("last", None)  # the previous format's reservation pointer


def decide(
    states: dict[str, dict],
    spends: Sequence[tuple[Budget, int]],
    now: float,
    max_wait: float,
    priority: Priority = Priority.RUN,
) -> tuple[Grant, dict[str, dict] | None]:
    """The pure decision: when these spends may go; the new states if recorded.

    The earliest moment every window of every budget has room (leaving the room `priority`
    keeps for the classes before it): each window's first moment with room from a candidate
    moves the candidate on, until none does."""
    at, budget, limit = now, None, None
    has_room_at: dict[tuple[str, Limit], float] = {}  # the moment each window was found free
    moved = True
    while moved:
        moved = False
        for spend_budget, units in spends:
            state = states.setdefault(spend_budget.key, {})
            blocked = float(state.get("blocked", 0))
            if blocked > at:
                at, budget, limit, moved = blocked, spend_budget, None, True
            for window_limit in windows_of(spend_budget):
                if has_room_at.get((spend_budget.key, window_limit)) == at:
                    continue
                window_at = _earliest(
                    _window(state, window_limit),
                    window_limit,
                    at,
                    units,
                    now=now,
                    room=room_kept(
                        priority, window_limit, steady=window_limit not in spend_budget.limits
                    ),
                )
                if window_at > at:
                    at, budget, limit, moved = window_at, spend_budget, window_limit, True
                has_room_at[spend_budget.key, window_limit] = window_at
        if at - now > max_wait:
            return Grant(at, False, budget, limit), None
    for spend_budget, units in spends:
        state = states[spend_budget.key]
        for window_limit in windows_of(spend_budget):
            _record(_window(state, window_limit), window_limit, now, at, units)
        windows = [2 * w.seconds + 60 for w in spend_budget.limits]
        state["ttl"] = max([int(state.get("ttl", 0)), *windows])
    return Grant(at, True, budget if at > now else None, limit if at > now else None), states


# --- an integration's budgets -----------------------------------------------------------------


def _digest(*parts: str) -> str:
    """A stable, short key part that never shows a credential (client ids, merchant ids)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def channel_hosts(integration) -> tuple[str, ...]:
    """Every host the integration's requests go to (API, uploads, login), sorted.

    A budget is the count of one channel, so its key names these hosts: an integration pointed
    at another host (with a real client id, say) never shares, and never blocks with its 429s,
    the budgets of the real channel's integrations.
    """
    urls = [integration.api_url]
    more = descriptor(integration.channel).budget_urls
    if more:
        urls += more(integration)
    return tuple(sorted({urlsplit(url or "").netloc.lower() for url in urls}))


def budgets_for(integration, *, seller: str = "") -> dict[str, Budget]:
    """The budgets an integration's requests spend, keyed the way the channel counts them —
    and by the hosts it talks to (channel_hosts).

    `seller` is the channel's id of the account behind the token (Allegro: GET /me); without
    it the seller's budgets are counted per integration, which is right unless two
    integrations share one seller account.
    """
    from integrations.channels import channel_facts, limits_for

    channel = integration.channel
    facts = channel_facts(channel)
    credentials = integration.credentials or {}
    hosts = channel_hosts(integration)
    place = _digest(*hosts)
    client_id = str(credentials.get("client_id", ""))
    identities = {
        "app": _digest(*hosts, client_id),
        "seller": _digest(*hosts, seller) if seller else f"integration-{integration.pk}-{place}",
        "merchant": _digest(*hosts, str(credentials.get("merchant_id", ""))),
        # Amazon's usage plans: one selling partner with one application, in one region (the
        # API host) — shared by every integration of that seller and app.
        "partner": _digest(*hosts, integration.setting("seller_id"), client_id),
    }
    result = {}
    for name, spec in facts.budgets.items():
        result[name] = Budget(
            key=f"{channel}:{spec.counted_by}:{identities[spec.counted_by]}:{name}",
            limits=limits_for(channel, name),
            label=str(spec.label),
            unit=str(spec.unit),
            steady=spec.steady,
        )
    rpm = integration.requests_per_minute
    if descriptor(channel).requests_counted_per_shop:
        rpm = integration.effective_requests_per_minute
        shop = urlsplit(integration.api_url or "")
        result["shop"] = Budget(
            key=f"{channel}:shop:{_digest(shop.netloc.lower(), shop.path.rstrip('/'))}",
            limits=(Limit(rpm, 60),),
            label=str(_("the shop's limit of %(count)s requests/min") % {"count": rpm}),
            unit=str(_("requests")),
            name=str(_("the shop's limit")),
        )
    elif rpm:
        result["integration"] = Budget(
            key=f"integration:{integration.pk}:{place}",
            limits=(Limit(rpm, 60),),
            label=str(_("the integration's own limit of %(count)s requests/min") % {"count": rpm}),
            unit=str(_("requests")),
            name=str(_("the integration's own limit")),
        )
    return result


# --- the interface ---------------------------------------------------------------------------


def spend(
    spends: Sequence[tuple[Budget, int]], *, max_wait: float, priority: Priority | None = None
) -> Grant:
    """Reserve `units` of every budget at the earliest moment all have room, if that moment is
    at most `max_wait` seconds away; otherwise spend nothing and say when it would be.
    `priority`: the caller's (spending_as) unless given."""
    if not spends:
        return Grant(time.time(), True)
    keys = sorted({b.key for b, _ in spends})
    priority = current_priority() if priority is None else Priority(priority)

    def transition(states):
        return decide(states, spends, time.time(), max_wait, priority)

    return store().transact(keys, transition)


def peek(spends: Sequence[tuple[Budget, int]], *, priority: Priority | None = None) -> Grant:
    """When these spends could go (with the caller's priority unless given), spending nothing."""
    if not spends:
        return Grant(time.time(), True)
    return spend(spends, max_wait=-1.0, priority=priority)


def block(budgets: Iterable[Budget], until: float) -> None:
    """A channel said "wait" (429): no spender of these budgets goes before `until` — at most
    CHANNEL_MAX_HOLD_SECONDS from now, whatever the answer asked."""
    budgets = list(budgets)
    if not budgets:
        return
    until = min(until, time.time() + settings.CHANNEL_MAX_HOLD_SECONDS)

    def transition(states):
        for budget in budgets:
            state = states.setdefault(budget.key, {})
            state["blocked"] = max(float(state.get("blocked", 0)), until)
            state["ttl"] = max(int(state.get("ttl", 0)), int(until - time.time()) + 60)
        return None, states

    store().transact(sorted({b.key for b in budgets}), transition)

"""Channel budgets (integrations/shopconnect/budgets.py): the window maths, the shared store,
several processes spending one budget, overrides, estimates."""

import math
import multiprocessing
import os
import time

import pytest

from integrations.channels import Channel, Limit
from integrations.shopconnect import budgets
from integrations.shopconnect.budget_estimates import seconds_to_spend
from integrations.shopconnect.budgets import Budget, decide
from tests.budget_fixtures import (
    most_in_a_fixed_window,
    most_in_any_window,
    most_units_in_any_window,
    run_in_processes,
)


def spend_greedily(budget, count, *, start=1_000_000.0, step=0.001):
    """Spend one unit at a time as early as the budget allows, on a fake clock: the times."""
    states, now, times = {}, start, []
    for _ in range(count):
        grant, states = decide(states, [(budget, 1)], now, max_wait=1e9)
        assert grant.granted
        now = max(now, grant.at)
        times.append(now)
        now += step
    return times


@pytest.mark.parametrize(
    ("limits", "units"),
    [
        ((Limit(9_000, 60),), 20_000),
        ((Limit(249, 60), Limit(7_470, 3600)), 16_000),
        ((Limit(600, 60), Limit(3_000, 300)), 8_000),
        ((Limit(25, 1),), 2_000),
        ((Limit(60, 60),), 300),
        ((Limit(5, 300),), 30),  # Amazon's listings feeds: a window of few units
    ],
)
def test_no_window_ever_sees_more_than_its_limit_yet_little_is_wasted(limits, units):
    budget = Budget("test", limits, "test limit")

    times = spend_greedily(budget, units)

    for limit in limits:
        assert most_in_any_window(times, limit.seconds) <= limit.count
        for offset in (0.0, 0.37 * limit.seconds):  # a fixed window, whatever its alignment
            assert most_in_a_fixed_window(times, limit.seconds, offset) <= limit.count
    # Over the run, at least 95% of the binding window's allowance was used.
    span = times[-1] - times[0]
    allowed = min(limit.count * (1 + math.floor(span / limit.seconds)) for limit in limits)
    assert units >= 0.95 * min(allowed, units)
    longest = max(limits, key=lambda w: w.seconds)
    if units > 2 * longest.count:
        periods = span / longest.seconds
        assert units / periods >= 0.95 * longest.count * (1 - 1 / periods)


def test_a_fresh_minute_budget_does_not_burst_a_minute_in_a_second():
    times = spend_greedily(Budget("gentle", (Limit(600, 60),), "test"), 600)

    assert most_in_any_window(times, 1) <= 11  # 1.1 × the average rate at most


def test_a_window_of_few_units_gives_its_room_back_soon_after_the_window():
    """Amazon's 5 listings feeds in 5 minutes: the sixth goes about 301 s after the first
    (the window and its 1 s margin, in slots of a 1,200th), not up to 305 s after."""
    feeds = Budget("feeds", (Limit(5, 300),), "listings feeds", steady=False)

    times = spend_greedily(feeds, 6, start=1_000_000.1)

    assert 301.0 <= times[5] - times[0] <= 301.25


def test_a_window_kept_in_coarser_slots_is_recut_never_earlier():
    """A window stored before its slots were finer (120 of 2.5 s): each spend moves to the
    last new slot of its old one, so its room never comes back before it could have."""
    feeds = Budget("feeds", (Limit(5, 300),), "listings feeds", steady=False)
    old_slot = 400_000  # 1,000,000 s .. 1,000,002.5 s in slots of 2.5 s
    states = {"feeds": {"w": {"5/300": {"slots": {str(old_slot): 5}}}}}

    grant, states = decide(states, [(feeds, 1)], 1_000_001.0, max_wait=1e9)

    assert grant.at >= (old_slot + 1) * 2.5 + 300  # the five may have gone at the slot's end
    assert grant.at <= (old_slot + 1) * 2.5 + 301.25
    assert states["feeds"]["w"]["5/300"]["n"] == budgets.FINE_SLOTS


def test_spends_are_all_or_nothing():
    roomy = Budget("roomy", (Limit(100, 60),), "roomy")
    full = Budget("full", (Limit(1, 60),), "full")
    states, now = {}, 1_000_000.0
    _, states = decide(states, [(full, 1)], now, max_wait=0)

    grant, new = decide(states, [(roomy, 1), (full, 1)], now, max_wait=5)

    assert not grant.granted and new is None
    assert grant.budget == full and grant.limit == Limit(1, 60)
    assert grant.at >= now + 58
    assert "roomy" not in states or not states["roomy"].get("w", {}).get("100/60", {}).get("slots")


def test_a_spender_waiting_on_its_own_budget_does_not_hold_back_a_shared_one():
    # Allegro: a quantity command (app + its own small budget) queued ahead must not delay a
    # PATCH (app + edits) that the application's budget has room for now.
    app = Budget("app", (Limit(9_000, 60),), "app")
    commands = Budget("commands", (Limit(10, 60),), "commands")
    edits = Budget("edits", (Limit(2_490, 60),), "edits")
    states, now = {}, 1_000_000.0
    first, states = decide(states, [(app, 1), (commands, 10)], now, max_wait=1e9)
    queued, states = decide(states, [(app, 1), (commands, 10)], now, max_wait=1e9)

    patch, states = decide(states, [(app, 1), (edits, 1)], now + 0.5, max_wait=1e9)

    assert first.at == now and queued.at > now + 55 and queued.budget == commands
    assert patch.granted and patch.at == pytest.approx(now + 0.5, abs=0.01)
    # ... and the reservation made ahead keeps its moment: a third command queues behind it.
    third, states = decide(states, [(app, 1), (commands, 10)], now + 1, max_wait=1e9)
    assert third.at > queued.at


def test_room_taken_before_reservations_made_ahead_never_overfills_their_window():
    app = Budget("app", (Limit(10, 10),), "ten in ten seconds", steady=False)
    gate = Budget("gate", (Limit(100, 10),), "gate", steady=False)
    now = 1_000_000.0
    states = {"gate": {"blocked": now + 9}}  # held until +9 s (a 429, say)
    moments = []
    for _ in range(6):  # six spenders of both: reserved ahead, at +9 s
        grant, states = decide(states, [(app, 1), (gate, 1)], now, max_wait=60)
        moments.append(grant.at)
    for i in range(10):  # then spenders of the application's budget only, from now on
        grant, states = decide(states, [(app, 1)], now + 0.01 * i, max_wait=60)
        moments.append(grant.at)

    assert moments[:6] == [now + 9] * 6
    assert sum(1 for at in moments[6:] if at < now + 9) == 4  # the room the six left
    assert most_in_any_window(moments, 10) <= 10


@pytest.mark.parametrize("seed", range(6))
def test_spenders_of_overlapping_budgets_never_exceed_a_window(seed):
    """Random spenders of overlapping budgets, some reserving far ahead, some able to go at
    once: every window of every budget (the steady per-second ones too) stays within its
    limit, counted as a sliding window over the moments granted."""
    import random

    rng = random.Random(seed)
    app = Budget("app", (Limit(100, 10),), "app")
    edits = Budget("edits", (Limit(60, 10), Limit(200, 60)), "edits")
    price = Budget("price", (Limit(400, 10),), "price")
    quantity = Budget("quantity", (Limit(120, 60),), "quantity")
    kinds = [
        [(app, 1), (edits, 1)],
        [(app, 1), (price, 25)],
        [(app, 1), (quantity, 40)],
        [(app, 1)],
    ]
    states, now, spent = {}, 1_000_000.0, {b.key: [] for b in (app, edits, price, quantity)}
    budgets_by_key = {b.key: b for b in (app, edits, price, quantity)}
    for _ in range(1_500):
        spends = rng.choice(kinds)
        grant, new = decide(states, spends, now, max_wait=rng.choice([0.5, 5, 60]))
        if grant.granted:
            states = new
            for budget, units in spends:
                spent[budget.key].append((grant.at, units))
        now += rng.expovariate(40)

    for key, moments in spent.items():
        for limit in budgets.windows_of(budgets_by_key[key]):
            assert most_units_in_any_window(moments, limit) <= limit.count, (key, limit)
    assert len(spent["quantity"]) >= 3 and len(spent["edits"]) > 100  # the mix really ran


def test_a_block_holds_every_spender_of_the_budget(db):
    app = Budget(f"app-{os.getpid()}-{time.time()}", (Limit(9_000, 60),), "app")
    budgets.block([app], time.time() + 30)

    grant = budgets.spend([(app, 1)], max_wait=10)

    assert not grant.granted and grant.budget == app and grant.limit is None
    assert 28 < grant.wait() <= 30


def test_the_store_reserves_in_order_and_says_when(db):
    budget = Budget("store-order", (Limit(3, 2),), "three in two seconds")
    grants = [budgets.spend([(budget, 1)], max_wait=5) for _ in range(4)]

    assert all(g.granted for g in grants)
    assert [g.wait() for g in grants[:3]] == pytest.approx([0, 0, 0], abs=0.05)
    assert 1.9 < grants[3].wait() < 2.1  # the fourth waits for the window to pass
    too_late = budgets.spend([(budget, 1)], max_wait=0.5)
    assert not too_late.granted and too_late.limit == Limit(3, 2)


def _spend_in_a_process(settings_env, key, count, times):
    """A separate process (forked: its own budget store connection) spending one budget."""
    import django

    os.environ.update(settings_env)
    django.setup()
    from integrations.shopconnect import budgets as store_budgets

    store_budgets.reset_store()
    budget = Budget(key, (Limit(40, 2),), "shared")
    for _ in range(count):
        grant = store_budgets.spend([(budget, 1)], max_wait=30)
        time.sleep(grant.wait())
        # The moment the store granted (what it promises: never over the budget together),
        # and the moment this process woke to go (a descheduled process wakes late).
        times.append((grant.at, time.time()))


@pytest.mark.slow
def test_processes_sharing_a_budget_never_exceed_it_together(db):
    """Two processes, each spending 100 of a 40-per-2-seconds budget as fast as it lets them:
    together they never go over, and the budget is not wasted."""
    key = f"shared-{time.time()}"
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        times = manager.list()
        env = {"DJANGO_SETTINGS_MODULE": "xsale.settings"}
        run_in_processes(context, [(_spend_in_a_process, (env, key, 100, times))] * 2)
        granted, woke = zip(*times, strict=True) if times else ((), ())

    assert len(granted) == 200
    assert most_in_any_window(sorted(granted), 2) <= 40
    # 200 at 40 per 2 s: the last can go after 8 s at best; the budget kept near that pace.
    assert max(woke) - min(granted) < 8 * 1.25


def test_budgets_are_keyed_by_what_the_channel_counts(make_integration):
    one = make_integration(name="Seller one", channel=Channel.ALLEGRO)
    two = make_integration(name="Seller two", channel=Channel.ALLEGRO)
    other_app = make_integration(
        name="Other app",
        channel=Channel.ALLEGRO,
        credentials={**one.credentials, "client_id": "another-client"},
    )
    a, b, c = (budgets.budgets_for(i) for i in (one, two, other_app))

    assert a["app"].key == b["app"].key != c["app"].key  # one Client ID, one budget
    assert a["edits"].key != b["edits"].key  # sellers unknown: one per integration
    same_seller = budgets.budgets_for(one, seller="42"), budgets.budgets_for(two, seller="42")
    assert same_seller[0]["edits"].key == same_seller[1]["edits"].key
    assert "sandbox-client" not in a["app"].key  # never a credential in a key
    assert a["edits"].limits == (Limit(2_490, 60), Limit(74_700, 3600))
    assert "integration" not in a  # no own limit unless the integration sets one
    one.requests_per_minute = 600
    assert budgets.budgets_for(one)["integration"].limits == (Limit(600, 60),)


def test_an_override_takes_effect_without_code_changes(make_integration, settings):
    shop = make_integration(name="Zalando", channel=Channel.ZALANDO)
    settings.CHANNEL_LIMITS = {"zalando": {"stock_updates": [[3_000, 60]]}}

    assert budgets.budgets_for(shop)["stock_updates"].limits == (Limit(3_000, 60),)
    assert budgets.budgets_for(shop)["submissions"].limits == (Limit(25, 1),)


def test_a_long_resync_is_estimated_with_every_window():
    edits = (Limit(2_490, 60), Limit(74_700, 3600))
    # 200,000 edits: 74,700 in the first half hour, the same after the hour, the rest at the
    # minute's pace after the second hour: 2 h 20 min, plus the slots' 1.6%.
    assert 2 * 3600 + 20 * 60 < seconds_to_spend(200_000, edits) < 2 * 3600 + 23 * 60
    # Below the hourly allowance, the minute's pace alone.
    assert seconds_to_spend(2_490, edits) == pytest.approx(61, abs=1)

"""Allegro's prices and stock split between PATCH and the price and quantity commands by each
path's full cost (issue 28 item 5): a command's PUT and its report read count in the
application's 9,000 requests a minute, and with computed (distinct) prices a price command
carries one offer. Outcomes are read in one request per command (its tasks)."""

from decimal import Decimal

import pytest
from django.db.models import F

from integrations.channels import limits_for
from integrations.engine import skeleton
from integrations.saleschannels.allegro.commands import split_cost
from integrations.services.runs import start_resync
from integrations.shopconnect.budget_estimates import (
    balanced_split,
    cheapest_split,
    seconds_to_spend,
)
from offers.models import Offer, OfferChannel
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

BUDGETS = ("app", "edits", "price_commands", "quantity_commands", "command_reads")


def real_limits():
    return {name: limits_for("allegro", name) for name in BUDGETS}


def run_seconds(cost, k):
    spent = cost(k)
    return max(seconds_to_spend(spent[name], w) for name, w in real_limits().items())


def test_a_command_costs_its_put_and_one_report_read_of_the_application_budget():
    # Price groups of 1, 1, 1 and 2,500 offers; three stocks among them.
    cost = split_cost([2_500, 1, 1, 1], stocks=3)
    # Nothing by PATCH: 3 + 3 price commands, 3 + 2 quantity ones; two requests each.
    assert cost(0) == {
        "edits": 0,
        "app": 2 * (6 + 5),
        "price_commands": 2_503,
        "quantity_commands": 2_503,
        "command_reads": 2 * 2_503,
    }
    # The three single offers by PATCH: three commands fewer, three PATCHes more.
    assert cost(3)["app"] == 3 + 2 * (3 + 5)
    # A part of the large group by PATCH saves no command until a 1,000 is gone.
    assert cost(4)["app"] == 4 + 2 * (3 + 5)
    assert cost(503)["app"] == 503 + 2 * (2 + 5)


def test_twenty_thousand_distinct_prices_finish_at_least_twice_as_soon_as_patch_alone():
    offers = 20_000
    cost = split_cost([1] * offers, stocks=50)
    by_patch, seconds = cheapest_split(offers, cost, real_limits())
    patch_alone = seconds_to_spend(offers, limits_for("allegro", "edits"))

    assert seconds <= patch_alone / 2 and seconds <= 241
    assert seconds == pytest.approx(run_seconds(cost, by_patch))
    # The windows alone send far fewer by PATCH, and then the application's budget binds.
    windows_only, _ = balanced_split(
        offers,
        limits_for("allegro", "edits"),
        [limits_for("allegro", n) for n in ("price_commands", "quantity_commands")],
    )
    assert windows_only < by_patch
    assert run_seconds(cost, windows_only) > seconds + 20


def test_five_hundred_price_points_split_no_slower_than_by_the_windows_alone():
    offers = 20_000
    cost = split_cost([offers // 500] * 500, stocks=50)
    by_patch, seconds = cheapest_split(offers, cost, real_limits())
    windows_only, _ = balanced_split(
        offers,
        limits_for("allegro", "edits"),
        [limits_for("allegro", n) for n in ("price_commands", "quantity_commands")],
    )
    assert seconds <= run_seconds(cost, windows_only)
    assert seconds <= 160  # the figure bench/README.md holds for these offers


def with_distinct_prices(sandbox, account, count):
    integration = sandbox_integration(sandbox, account, "allegro")
    offers = make_offers(integration, count, photos=0)
    Offer.objects.filter(pk__in=[o.pk for o in offers]).update(
        price=F("id") * Decimal("0.01") + Decimal("5.00")
    )
    return integration


@pytest.fixture
def distinct_prices(sandbox, sandbox_account, settings, monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)
    settings.RESYNC_TASK_SECONDS = 0
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.3)
    return with_distinct_prices(sandbox, sandbox_account, 60)


@pytest.mark.django_db
@pytest.mark.usefixtures("english_messages")
def test_distinct_prices_go_by_patch_as_full_cost_says_and_every_outcome_lands_read_once(
    sandbox, sandbox_account, distinct_prices
):
    run = drain(start_resync(distinct_prices, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed, run.awaiting) == ("completed", 60, 0, 0)
    state = sandbox.state("allegro", sandbox_account)
    endpoints = state["counters"]["by_endpoint"]
    commands = state["counters"]["commands"]
    patches = endpoints.get("PATCH /sale/product-offers/{offerId}", 0)
    assert patches + commands["price"]["offers"] == 60
    # More by PATCH than the windows alone would send: a one-offer command costs more.
    windows_only, _ = balanced_split(
        60,
        limits_for("allegro", "edits"),
        [limits_for("allegro", n) for n in ("price_commands", "quantity_commands")],
    )
    assert patches > windows_only
    # Each command's outcome read once, from its tasks; its summary never needed.
    for kind in ("price", "quantity"):
        path = f"/sale/offer-{kind}-change-commands/{{commandId}}"
        assert endpoints.get(f"GET {path}/tasks", 0) == commands[kind]["accepted"] > 0
        assert endpoints.get(f"GET {path}", 0) == 0
    held = state["offers"]
    for link in OfferChannel.objects.filter(integration=distinct_prices).select_related("offer"):
        listing = held[link.external_id]
        assert Decimal(str(listing["sellingMode"]["price"]["amount"])) == link.offer.price
        assert listing["stock"]["available"] == link.offer.stock


@pytest.mark.django_db
def test_the_estimate_before_a_run_is_the_full_cost_split_of_the_catalogues_prices(
    sandbox, sandbox_account
):
    from integrations.services.estimates import resync_estimate

    offers = 5_000  # a chunk's worth, each its own price; stocks n % 17
    integration = with_distinct_prices(sandbox, sandbox_account, offers)
    estimate = resync_estimate(integration, data_types="prices_stock")
    # (other resyncs active in this database share the budgets: their offers count too)
    cost = split_cost([1] * offers, stocks=17, scale=1 + estimate.sharing)
    _, bound = cheapest_split(offers, cost, real_limits())
    assert estimate.seconds == pytest.approx(bound, rel=0.05, abs=1)
    patch_alone = seconds_to_spend(offers * (1 + estimate.sharing), limits_for("allegro", "edits"))
    assert estimate.seconds < patch_alone / 2
    # One price for all: the commands carry more, and the estimate is sooner.
    Offer.objects.update(price=Decimal("9.99"))
    shared = resync_estimate(integration, data_types="prices_stock")
    assert shared.seconds < estimate.seconds

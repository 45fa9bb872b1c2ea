"""Asynchronous channel operations as durable state (issue 17) on Allegro's price and quantity
commands (issue 18), against the sandbox over HTTP.

A prices-and-stock resync sends a share of its offers by PATCH and the rest as commands; a
command is a ChannelBatch row written before its PUT; outcomes land only when Allegro reports
them; the run completes when every batch has its report.
"""

from decimal import Decimal

import pytest

from integrations.engine import batches, resync_chunk
from integrations.engine.runner import process_chunk
from integrations.models import ChannelBatch, ResyncFailure, ResyncRun
from integrations.services.runs import cancel_resync, start_resync
from integrations.shopconnect import http
from offers.models import Offer, OfferChannel, SiteJournal
from tests.allegro_openapi import validate_allegro_request
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages", "handed_on")]

OFFERS = 120


@pytest.fixture
def allegro(sandbox, sandbox_account, settings):
    settings.RESYNC_TASK_SECONDS = 0  # one step per task, as a short time box would do
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.3)
    integration = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(integration, OFFERS, photos=0)
    for n in range(8):  # a catalogue's prices repeat: eight price groups
        Offer.objects.filter(pk__in=[o.pk for o in offers[n::8]]).update(
            price=Decimal(f"{19 + 10 * n}.99")
        )
    return integration


def sandbox_offers(sandbox, account) -> dict:
    return sandbox.state("allegro", account)["offers"]


def assert_channel_holds_the_catalogue(sandbox, account, integration):
    held = sandbox_offers(sandbox, account)
    for link in OfferChannel.objects.filter(integration=integration).select_related("offer"):
        listing = held[link.external_id]
        assert Decimal(str(listing["sellingMode"]["price"]["amount"])) == link.offer.price
        assert listing["stock"]["available"] == link.offer.stock


def test_prices_and_stock_go_by_commands_and_patch_and_land_when_allegro_reports(
    sandbox, sandbox_account, allegro
):
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed, run.awaiting) == ("completed", OFFERS, 0, 0)
    state = sandbox.state("allegro", sandbox_account)
    commands = state["counters"]["commands"]
    assert commands["price"]["accepted"] > 0 and commands["quantity"]["accepted"] > 0
    assert commands["price"]["invalid"] == commands["quantity"]["invalid"] == 0
    assert commands["price"]["conflicts"] == 0  # no command sent twice
    by_command = commands["price"]["offers"]
    by_patch = state["counters"]["by_endpoint"].get("PATCH /sale/product-offers/{offerId}", 0)
    assert by_command + by_patch == OFFERS and by_patch > 0  # every budget at once
    assert_channel_holds_the_catalogue(sandbox, sandbox_account, allegro)
    # Stock 0 cannot go by command (FIXED must be > 0): those offers went by PATCH.
    zero = [b for b in ChannelBatch.objects.filter(run=run) if b.changes["sent"].get("stock") == 0]
    assert not zero
    journal = SiteJournal.objects.filter(integration=allegro)
    assert journal.count() == OFFERS and not journal.exclude(status="ok").exists()
    assert set(ChannelBatch.objects.filter(run=run).values_list("status", "recorded")) == {
        ("done", True)
    }


def test_every_request_of_the_run_validates_against_allegros_openapi(
    sandbox, sandbox_account, allegro, wire
):
    drain(start_resync(allegro, source="cli", data_types="prices_stock"))
    commands = [r for r in wire.sent if "change-commands" in r.url]
    assert any(r.method == "PUT" for r in commands) and any(r.method == "GET" for r in commands)
    for sent in wire.sent:
        validate_allegro_request(sent, allegro)


def test_offers_allegro_fails_in_its_report_fail_with_its_message(
    sandbox, sandbox_account, allegro
):
    failing = ["1003", "1005"]
    sandbox.configure("allegro", sandbox_account, command_fail_ids=failing)
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    failures = {
        OfferChannel.objects.get(offer=f.offer, integration=allegro).external_id: f
        for f in run.failures.all()
    }
    commanded = {
        listing
        for batch in ChannelBatch.objects.filter(run=run)
        for listing in batch.changes["listings"].values()
    }
    expected = set(failing) & commanded
    assert set(failures) == expected
    for failure in failures.values():
        assert failure.message and failure.code
    assert run.failed == len(expected) and run.sent == OFFERS - len(expected)
    # No journal row says a failed offer was sent.
    assert not SiteJournal.objects.filter(
        integration=allegro, offer__in=[f.offer for f in failures.values()], status="ok"
    ).exists()


def test_nothing_lands_before_allegro_reports_and_the_run_waits_holding_no_worker(
    sandbox, sandbox_account, allegro
):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=30)
    Offer.objects.update(price=Decimal("9.99"))  # one price command, a few quantity ones
    run = start_resync(allegro, source="cli", data_types="prices_stock")
    for _ in range(100):
        run.refresh_from_db()
        if run.status == "paused":
            break
        process_chunk(run.pk, run.cursor)
    run.refresh_from_db()
    assert run.status == "paused" and run.awaiting > 0
    assert run.sent + run.awaiting == OFFERS
    assert "registered" in run.pause_reason
    commanded = [o for b in ChannelBatch.objects.filter(run=run) for o in b.offers]
    assert not SiteJournal.objects.filter(offer_id__in=commanded).exists()


def test_a_chunks_commands_go_while_its_own_patches_do(
    sandbox, sandbox_account, allegro, wire, settings
):
    # Five PATCHes a second: the chunk's PATCHes (stock 0 at least) last over a second.
    settings.CHANNEL_LIMITS = {"allegro": {"edits": [[5, 1]]}}
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert ChannelBatch.objects.filter(run=run).values("group").distinct().count() == 1
    puts = wire.matching("PUT", "change-commands")
    patches = wire.matching("PATCH", "/sale/product-offers/")
    assert puts and len(patches) > 5
    # The one chunk's commands were written before its PATCHes went, not when it was recorded.
    assert min(r.started for r in puts) < max(r.started for r in patches)


def test_a_chunk_cut_short_after_its_commands_were_written_plans_none_of_them_again(
    sandbox, sandbox_account, allegro, settings, monkeypatch
):
    # Five PATCHes in 4 s: the chunk's PATCHes are deferred after its commands were written.
    settings.CHANNEL_LIMITS = {"allegro": {"edits": [[5, 4]]}}
    monkeypatch.setattr(http, "MAX_BUDGET_WAIT", 0.5)
    reads_again = []
    carried_after = resync_chunk.carried_after

    def noting(run_id, cursor):
        reads_again.append(carried_after(run_id, cursor))
        return reads_again[-1]

    monkeypatch.setattr(resync_chunk, "carried_after", noting)
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    assert (run.status, run.processed, run.sent, run.failed) == ("completed", OFFERS, OFFERS, 0)
    assert run.awaiting == 0
    assert any(reads_again)  # the chunk was read again with offers its commands carry
    written = ChannelBatch.objects.filter(run=run)
    for operation in ("allegro:price", "allegro:quantity"):
        carried = [o for b in written.filter(operation=operation) for o in b.offers]
        assert len(carried) == len(set(carried))  # no offer in two commands of one kind
    state = sandbox.state("allegro", sandbox_account)
    commands = state["counters"]["commands"]
    assert commands["price"]["conflicts"] == commands["quantity"]["conflicts"] == 0
    patched = state["counters"]["by_endpoint"]["PATCH /sale/product-offers/{offerId}"]
    assert commands["price"]["offers"] + patched == OFFERS  # each listing's price once
    assert_channel_holds_the_catalogue(sandbox, sandbox_account, allegro)


def test_a_crash_between_the_put_and_the_report_repeats_no_command(
    sandbox, sandbox_account, allegro, monkeypatch
):
    run = start_resync(allegro, source="cli", data_types="prices_stock")
    # The worker dies right after Allegro registered the commands, before we marked them.
    real = batches._update

    def die_after_submit(batch, **fields):
        if fields.get("status") == ChannelBatch.Status.SUBMITTED:
            raise KeyboardInterrupt("kill -9")
        return real(batch, **fields)

    monkeypatch.setattr(batches, "_update", die_after_submit)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5):
            process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    monkeypatch.setattr(batches, "_update", real)
    registered = sandbox.state("allegro", sandbox_account)["command_count"]
    assert registered >= 1
    # The lease runs out; the sweeper hands the run to a new task.
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="", lease_expires_at=None)
    run = drain(run)

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    state = sandbox.state("allegro", sandbox_account)
    commands = state["counters"]["commands"]
    batches_written = ChannelBatch.objects.filter(run=run).count()
    assert state["command_count"] == batches_written  # each command registered once
    assert commands["price"]["conflicts"] + commands["quantity"]["conflicts"] >= 1
    assert_channel_holds_the_catalogue(sandbox, sandbox_account, allegro)


def test_a_cancel_stops_new_commands_but_reads_the_reports_of_registered_ones(
    sandbox, sandbox_account, allegro, chunk_size, settings, monkeypatch
):
    import dataclasses

    from integrations import channels

    facts = dataclasses.replace(channels.CHANNEL_FACTS["allegro"], batch_chunk_size=40)
    settings_facts = dict(channels.CHANNEL_FACTS, allegro=facts)
    monkeypatch.setattr(channels, "CHANNEL_FACTS", settings_facts)  # undone after the test
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=2)
    run = start_resync(allegro, source="cli", data_types="prices_stock")
    process_chunk(run.pk, 0)  # the first chunk: its commands registered
    run.refresh_from_db()
    assert 0 < run.processed < OFFERS
    registered = ChannelBatch.objects.filter(run=run).count()
    assert cancel_resync(run)
    run = drain(run)

    assert run.status == "cancelled" and run.awaiting == 0
    assert ChannelBatch.objects.filter(run=run).count() == registered  # no new batch
    assert not ChannelBatch.objects.filter(run=run, recorded=False).exists()
    assert run.sent == run.processed  # what Allegro changed is what the seller reads


def test_a_batch_without_a_report_within_the_wait_fails_its_offers_with_a_reason(
    sandbox, sandbox_account, allegro, settings
):
    settings.RESYNC_BATCH_WAIT_SECONDS = 1
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=3600)
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    assert run.status == "completed" and run.awaiting == 0
    unconfirmed = ResyncFailure.objects.filter(run=run, code="not_confirmed")
    commanded = {o for b in ChannelBatch.objects.filter(run=run) for o in b.offers}
    assert set(unconfirmed.values_list("offer_id", flat=True)) == commanded
    assert "did not confirm" in unconfirmed.first().message
    assert run.sent == OFFERS - len(commanded)


def test_the_estimate_and_the_plot_know_every_budget_of_prices_and_stock(allegro):
    from integrations.presentation.plot import channel_limit_per_minute
    from integrations.services.estimates import resync_estimate

    patch_only = 20_000 / 2_490 * 60  # seconds at the PATCH edits budget alone
    estimate = resync_estimate(allegro, 20_000, data_types="prices_stock")
    assert estimate.seconds < patch_only / 3
    assert "command" in estimate.binding
    assert channel_limit_per_minute(allegro, "prices_stock") == pytest.approx(2_490 + 9_000)
    assert channel_limit_per_minute(allegro, "all") == pytest.approx(2_490)


def test_a_command_allegro_refuses_fails_only_its_offers_with_allegros_message(
    sandbox, sandbox_account, allegro
):
    # Two price groups, one in a currency Allegro does not take: its command is refused (422).
    pks = sorted(Offer.objects.values_list("pk", flat=True))
    odd = pks[: OFFERS // 2]
    Offer.objects.filter(pk__in=odd).update(price=Decimal("7.99"), currency="XYZ")
    Offer.objects.exclude(pk__in=odd).update(price=Decimal("5.99"))
    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    refused = ChannelBatch.objects.filter(run=run, status="refused")
    refused_offers = {o for b in refused for o in b.offers}
    assert refused_offers and refused_offers <= set(odd)
    failed = {f.offer_id: f for f in run.failures.all()}
    assert set(failed) == set(odd)  # refused by command or by PATCH: Allegro's own words
    assert all(f.message for f in failed.values())
    assert run.sent == OFFERS - len(odd) and run.status == "completed"

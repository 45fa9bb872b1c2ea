"""A run that must wait for room in a budget loses no time and repeats no offer (issue 17):
requests whose moment is reserved go, in offer order; a paused run is woken ahead of its time,
not at the sweeper's next round."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.engine import skeleton
from integrations.engine.cluster import SweepSchedule
from integrations.engine.resync_chunk import ResyncChunks
from integrations.engine.skeleton import Wait, requeue_stale_runs
from integrations.models import ResyncRun
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import WorkerProcess, flush_redis_queue, wait_for

PATCH = "PATCH /sale/product-offers/{offerId}"


def edited(sandbox, account) -> dict[str, dict]:
    offers = sandbox.state("allegro", account)["offers"]
    return {listing: held for listing, held in offers.items() if held.get("edits")}


@pytest.mark.serial
@pytest.mark.django_db
def test_a_chunk_held_by_a_window_sends_every_offer_it_had_room_for_and_only_those_first(
    sandbox, sandbox_account, settings
):
    # Two edits a second, six in 30 s: six offers get a moment (0, 0, 1, 1, 2, 2 s from now),
    # the seventh would wait 30 s and holds the rest of the chunk.
    settings.CHANNEL_LIMITS = {"allegro": {"edits": [[2, 1], [6, 30]]}}
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 12, photos=0)
    run = start_resync(allegro, source="cli")
    token = ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    step = ResyncChunks(ResyncRun.objects.select_related("integration").get(pk=run.pk), token)
    try:
        step.prepare()
        outcome = step.advance(time.monotonic() + 45)
    finally:
        step.close()

    assert isinstance(outcome, Wait) and outcome.held.limit.count == 6
    run.refresh_from_db()
    # The four that waited for their moment went though the seventh was held meanwhile, and
    # the six are the chunk's first six: the next chunk starts after them, repeating none.
    assert (run.processed, run.sent, run.failed, run.cursor) == (6, 6, 0, offers[5].pk)
    first_six = {offer.channels.get().external_id for offer in offers[:6]}
    assert set(edited(sandbox, sandbox_account)) == first_six
    counters = sandbox.state("allegro", sandbox_account)["counters"]
    assert counters["by_endpoint"][PATCH] == 6


@pytest.mark.django_db
def test_the_sweeper_wakes_a_pause_that_ends_within_its_lead(monkeypatch):
    from integrations.models import Integration

    woken = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: woken.append(run_id))
    soon, later = (
        ResyncRun.objects.create(
            integration=Integration.objects.create(name=name, channel="woocommerce"),
            source="cli",
            status="paused",
            paused_until=timezone.now() + timedelta(seconds=seconds),
        )
        for name, seconds in (("soon", skeleton.WAKE_LEAD_SECONDS / 2), ("later", 30))
    )

    requeue_stale_runs()

    assert woken == [soon.pk]
    assert ResyncRun.objects.get(pk=soon.pk).status == "queued"
    assert ResyncRun.objects.get(pk=later.pk).status == "paused"


@pytest.mark.django_db
def test_the_sweep_schedule_is_due_when_a_pause_is_about_to_end_not_at_the_next_round():
    from integrations.models import Integration

    pause = 3.0
    ResyncRun.objects.create(
        integration=Integration.objects.create(name="paused", channel="woocommerce"),
        source="cli",
        status="paused",
        paused_until=timezone.now() + timedelta(seconds=pause),
    )
    resync, default = SweepSchedule(60, wakes=True), SweepSchedule(60, wakes=False)
    resync.swept(), default.swept()  # the next rounds are a minute away
    started = time.monotonic()
    wait_for(resync.due, timeout=pause, interval=0.05, message="the sweep before the pause ends")
    assert time.monotonic() - started < pause - skeleton.WAKE_LEAD_SECONDS + 1.0
    assert not default.due()  # the default cluster wakes no runs


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_held_longer_than_a_request_waits_goes_on_when_its_room_comes(
    sandbox, sandbox_account, tmp_path
):
    """Twenty edits in any 15 s: forty offers pause once, for about 15 s. The supervisor's
    round is a minute here, so only the wake ahead of the pause's end moves the run on time."""
    flush_redis_queue()
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 40, photos=0)
    worker = WorkerProcess(
        "resync",
        tmp_path / "worker.log",
        RESYNC_SWEEP_SECONDS=60,
        CHANNEL_LIMITS='{"allegro": {"edits": [[20, 15]]}}',
    ).start()
    try:
        worker.wait_until_running()
        run = start_resync(allegro, source="cli")
        wait_for(
            lambda: not ResyncRun.objects.get(pk=run.pk).is_active,
            timeout=45,
            message=f"the run to end\n{worker.output()[-3000:]}",
        )
    finally:
        worker.stop()
    run.refresh_from_db()
    assert (run.status, run.sent, run.failed) == ("completed", 40, 0), run.error
    assert len(run.pauses) == 1
    paused_at, until = run.pauses[0]
    listings = edited(sandbox, sandbox_account)
    assert len(listings) == 40 and {held["edits"] for held in listings.values()} == {1}
    after = sorted(stamp for held in listings.values() if (stamp := held["updated_at"]) > paused_at)
    # The first edit after the pause goes at its end (the budget's margin later), not at the
    # next round of the sweeper.
    assert until - 1 <= after[0] <= until + 3, (after[0] - until, run.pauses)

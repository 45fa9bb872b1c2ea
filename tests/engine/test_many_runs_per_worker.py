"""One worker drives several runs side by side, each under its own lease (issue 17)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations.engine import runner, skeleton
from integrations.models import ResyncRun
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_messages")]


@pytest.fixture
def no_queue(monkeypatch):
    """The broker stands aside: what a task hands on is recorded, not run."""
    handed = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: handed.append(run_id))
    return handed


@pytest.fixture
def shops(sandbox, sandbox_account):
    shops = []
    for n in range(3):
        shop = sandbox_integration(sandbox, f"{sandbox_account}{n}", "woocommerce")
        make_offers(shop, 40, photos=0, prefix=f"S{n}-")
        shops.append(shop)
    return shops


def test_one_task_drives_the_runs_waiting_for_a_worker_side_by_side(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 3
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in shops]
    seen_threads = set()
    real = skeleton.run_task

    def spy(run_id, cursor, step_for, **kwargs):
        seen_threads.add((run_id, threading.get_ident()))
        return real(run_id, cursor, step_for, **kwargs)

    skeleton.run_task = spy
    try:
        runner.process_chunk(runs[0].pk, 0)
    finally:
        skeleton.run_task = real
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.sent, run.failed) == ("completed", 40, 0), run.error
    assert {run_id for run_id, _ in seen_threads} == {run.pk for run in runs}
    assert len({ident for _, ident in seen_threads}) == 3  # each in a thread of its own


def test_a_worker_drives_no_more_runs_at_once_than_it_may(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 2
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in shops]
    lock, active, most = threading.Lock(), [0], [0]
    real = skeleton.run_task

    def counting(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    skeleton.run_task = counting
    try:
        runner.process_chunk(runs[0].pk, 0)
    finally:
        skeleton.run_task = real
    assert most[0] == 2
    # A thread whose run ended took the one still waiting, within the task's time box.
    assert sorted(ResyncRun.objects.values_list("status", flat=True)) == ["completed"] * 3


def test_a_thread_whose_run_was_taken_elsewhere_takes_the_next_waiting_one(
    settings, shops, no_queue
):
    settings.RESYNC_RUNS_PER_WORKER = 2
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in shops]
    ResyncRun.objects.claim(runs[0].pk, 0, lease_seconds=60)  # the task's own run: elsewhere
    runner.process_chunk(runs[0].pk, 0)
    statuses = dict(ResyncRun.objects.values_list("pk", "status"))
    assert statuses[runs[1].pk] == statuses[runs[2].pk] == "completed"
    assert statuses[runs[0].pk] == "running"  # left to whoever holds it


def test_a_run_leased_elsewhere_is_left_alone(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 3
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in shops]
    token = ResyncRun.objects.claim(runs[1].pk, 0, lease_seconds=60)  # another worker has it
    assert token
    runner.process_chunk(runs[0].pk, 0)
    runs[1].refresh_from_db()
    assert runs[1].processed == 0 and runs[1].lease_token == token
    assert ResyncRun.objects.filter(status="completed").count() == 2


def test_the_longest_waiting_run_is_taken_first(settings, shops, no_queue):
    runs = [start_resync(shop, source="cli") for shop in shops]
    now = timezone.now()
    ResyncRun.objects.filter(pk=runs[1].pk).update(heartbeat_at=now)
    ResyncRun.objects.filter(pk=runs[2].pk).update(heartbeat_at=now - timedelta(minutes=1))
    waiting = ResyncRun.objects.waiting_for_worker(exclude=runs[0].pk, limit=1)
    assert waiting == [(runs[2].pk, 0)]
    ResyncRun.objects.filter(pk=runs[1].pk).update(heartbeat_at=None)  # never worked on yet
    assert ResyncRun.objects.waiting_for_worker(exclude=runs[0].pk, limit=1) == [(runs[1].pk, 0)]
    connection.close()


def test_a_run_paced_by_a_budget_says_which_and_its_share(sandbox, sandbox_account):
    """A run shows why it is not faster: the limit that set its pace, and its share."""
    from integrations.engine.resync_chunk import ResyncChunks

    # The shop's 60 requests a minute go at most 2 in any second (its steady window).
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=60)
    make_offers(shop, 3, photos=0)
    run = start_resync(shop, source="cli")
    token = ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    step = ResyncChunks(ResyncRun.objects.select_related("integration").get(pk=run.pk), token)
    step.adapter.max_in_flight = 1
    step.size = 1  # one offer a chunk: the third request waits for the shop's window
    try:
        reasons = []
        for _ in range(3):
            step.advance(deadline=10**9)
            reasons.append(ResyncRun.objects.get(pk=run.pk).pause_reason)
    finally:
        step.close()
    assert any("Paced by" in reason for reason in reasons), reasons
    connection.close()

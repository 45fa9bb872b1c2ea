"""A worker process's threads are bounded (issue 25 item 4, docs/architecture.md
"Concurrency"): the runner pool makes a thread per run driven, not RESYNC_RUNS_PER_WORKER of
them; one lease thread renews every run's lease."""

import threading
import time

import pytest

from integrations.engine import runner, skeleton
from integrations.engine.lease_keeper import LeaseKeeper
from integrations.models import ResyncRun
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_messages")]


@pytest.fixture
def no_queue(monkeypatch):
    handed = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: handed.append(run_id))
    return handed


def _shops(sandbox, account, count, offers=20):
    shops = []
    for n in range(count):
        shop = sandbox_integration(sandbox, f"{account}{n}", "woocommerce")
        make_offers(shop, offers, photos=0, prefix=f"T{n}-")
        shops.append(shop)
    return shops


def _named(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_a_task_driving_one_run_makes_one_runner_thread_and_one_lease_thread(
    settings, sandbox, sandbox_account, no_queue
):
    settings.RESYNC_RUNS_PER_WORKER = 10
    settings.RESYNC_TASK_SECONDS = 30
    (shop,) = _shops(sandbox, sandbox_account, 1)
    run = start_resync(shop, source="cli")
    seen = []
    real = skeleton.run_task

    def spy(*args, **kwargs):
        seen.append((_named("resync-run"), _named("lease")))
        return real(*args, **kwargs)

    skeleton.run_task = spy
    try:
        runner.process_chunk(run.pk, 0)
    finally:
        skeleton.run_task = real
    run.refresh_from_db()
    assert run.status == "completed", run.error
    runners, _ = seen[0]
    assert len(runners) == 1  # not ten


def test_runs_side_by_side_share_one_lease_thread(settings, sandbox, sandbox_account, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 3
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in _shops(sandbox, sandbox_account, 3)]
    lease_threads, runners = [], []
    stop = threading.Event()

    def watch():
        while not stop.wait(0.02):
            lease_threads.append(len(_named("lease")))
            runners.append(len(_named("resync-run")))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        runner.process_chunk(runs[0].pk, 0)
    finally:
        stop.set()
        watcher.join()
    assert sorted(ResyncRun.objects.values_list("status", flat=True)) == ["completed"] * 3
    assert max(runners) == 3
    assert max(lease_threads) == 1  # three leases, one thread


def test_the_lease_thread_renews_every_lease_it_keeps_and_none_it_let_go(
    settings, sandbox, sandbox_account
):
    settings.RESYNC_LEASE_SECONDS = 2  # renewed every 0.5 s
    runs = [start_resync(shop, source="cli") for shop in _shops(sandbox, sandbox_account, 2, 1)]
    tokens = [ResyncRun.objects.claim(r.pk, 0, lease_seconds=2) for r in runs]
    assert all(tokens)

    def expiry(run):
        return ResyncRun.objects.values_list("lease_expires_at", flat=True).get(pk=run.pk)

    first = [expiry(r) for r in runs]
    with LeaseKeeper(runs[0].pk, tokens[0]) as kept:
        with LeaseKeeper(runs[1].pk, tokens[1]):
            time.sleep(1.3)
            assert len(_named("lease")) == 1
            renewed = [expiry(r) for r in runs]
        assert all(after > before for after, before in zip(renewed, first, strict=True))
        time.sleep(1.0)  # the second lease was let go: no longer renewed
        assert expiry(runs[1]) == renewed[1]
        assert expiry(runs[0]) > renewed[0]
        assert not kept.lost.is_set()
    deadline = time.monotonic() + 3
    while _named("lease") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _named("lease") == []  # the thread ends with its last lease


def test_a_lease_another_task_took_is_noted_lost_and_a_cancel_stops_the_step(
    settings, sandbox, sandbox_account
):
    settings.RESYNC_LEASE_SECONDS = 2
    runs = [start_resync(shop, source="cli") for shop in _shops(sandbox, sandbox_account, 2, 1)]
    tokens = [ResyncRun.objects.claim(r.pk, 0, lease_seconds=2) for r in runs]
    stopped = threading.Event()
    with LeaseKeeper(runs[0].pk, tokens[0]) as taken, LeaseKeeper(runs[1].pk, tokens[1]) as kept:
        kept.on_cancel = stopped.set
        ResyncRun.objects.filter(pk=runs[0].pk).update(lease_token="another")
        ResyncRun.objects.filter(pk=runs[1].pk).update(status=ResyncRun.Status.CANCELLING)
        assert taken.lost.wait(3)
        assert stopped.wait(3)
        assert not kept.lost.is_set()

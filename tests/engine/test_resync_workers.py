"""The resync engine with a real `qcluster` process (the resync cluster) and the sandbox."""

import threading

import pytest
from django.core.management import call_command
from django.db import close_old_connections

from integrations.models import ResyncRun
from integrations.services.runs import ResyncAlreadyRunning, cancel_resync, start_resync
from offers.models import SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_now(run_id) -> ResyncRun:
    return ResyncRun.objects.get(pk=run_id)


def wait_until_ended(run, worker, timeout=120) -> ResyncRun:
    try:
        wait_for(lambda: not run_now(run.pk).is_active, timeout=timeout, message="run to end")
    except AssertionError:
        raise AssertionError(f"{run_now(run.pk)!r}\n{worker.output()[-3000:]}") from None
    return run_now(run.pk)


def test_a_run_started_by_the_command_completes_in_the_worker(
    resync_worker, sandbox, sandbox_account, capsys
):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 700)
    call_command("resync_offers", woo.name.upper(), "--wait", "--language", "en")
    out = capsys.readouterr().out
    assert "Started resync #" in out and "completed · 700/700" in out
    run = ResyncRun.objects.get(integration=woo)
    assert (run.status, run.sent, run.failed, run.source) == ("completed", 700, 0, "cli")
    assert SiteJournal.objects.filter(integration=woo, status="ok").count() == 700
    assert len(sandbox.state("woocommerce", sandbox_account)["offers"]) == 700


def test_a_killed_worker_loses_at_most_one_chunk_and_the_run_resumes(
    resync_worker, sandbox, sandbox_account, tmp_path
):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=240)
    make_offers(woo, 2500)  # 25 batch requests of 100, 4 requests/s
    sandbox.configure("woocommerce", sandbox_account, latency_ms=200)
    run = start_resync(woo, user=None, source="cli")
    wait_for(lambda: run_now(run.pk).processed >= 500, timeout=60, message="a first chunk")
    resync_worker.kill()
    killed_at = run_now(run.pk)
    assert killed_at.is_active and killed_at.processed < 2500
    restarted = WorkerProcess("resync", tmp_path / "restarted.log").start()
    try:
        run = wait_until_ended(run, restarted, timeout=150)
    finally:
        restarted.stop()
    assert (run.status, run.processed, run.sent, run.failed) == ("completed", 2500, 2500, 0)
    held = sandbox.state("woocommerce", sandbox_account)
    assert len(held["offers"]) == 2500  # no offer missing
    batches = held["counters"]["by_endpoint"]["POST /wp-json/wc/v3/products/batch"]
    batches_per_chunk = woo.facts.chunk_size // woo.facts.batch_size
    assert 25 <= batches <= 25 + batches_per_chunk  # at most one chunk sent twice


def test_two_simultaneous_starts_make_one_run(resync_worker, sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 50)
    barrier = threading.Barrier(2)
    outcomes = []

    def press():
        barrier.wait()
        try:
            outcomes.append(start_resync(woo, user=None, source="v2").pk)
        except ResyncAlreadyRunning as exc:
            outcomes.append(f"refused:{exc.run.pk}")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [o for o in outcomes if isinstance(o, int)]
    assert len(started) == 1 and outcomes.count(f"refused:{started[0]}") == 1
    run = wait_until_ended(ResyncRun.objects.get(), resync_worker)
    assert (run.status, run.sent) == ("completed", 50)


def test_cancel_stops_a_run_in_the_worker(resync_worker, sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=60)
    make_offers(woo, 3000)
    sandbox.configure("woocommerce", sandbox_account, latency_ms=100)
    run = start_resync(woo, user=None, source="v2")
    wait_for(lambda: run_now(run.pk).processed >= 500, timeout=60, message="a first chunk")
    assert cancel_resync(run_now(run.pk))
    run = wait_until_ended(run, resync_worker, timeout=60)
    assert run.status == "cancelled" and run.processed < 3000
    processed = run.processed
    assert run_now(run.pk).processed == processed

"""`manage.py run_cluster`: the clusters stop on SIGTERM; the sweeper keeps runs moving."""

import gc
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.utils import timezone

from integrations.engine.cluster import bound_database_waits, forget_presence, sweep
from integrations.models import ResyncRun, WorkerPresence
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import WorkerProcess, flush_redis_queue, wait_for

STOP_LIMIT_SECONDS = 10
SWEEP_SECONDS = 5  # the default RESYNC_SWEEP_SECONDS the workers run with


def run_now(run_id) -> ResyncRun:
    return ResyncRun.objects.get(pk=run_id)


def stop_and_time(worker: WorkerProcess, *, group: bool) -> float:
    """SIGTERM (to the supervisor's group, or to the supervisor alone); seconds until every
    process of the cluster has exited."""
    pids = worker.pids()
    assert len(pids) >= 6, pids  # supervisor, qcluster, sentinel, pusher, monitor, workers
    started = time.monotonic()
    worker.terminate(group=group)
    try:
        wait_for(
            lambda: not worker.pids() and worker.proc.poll() is not None,
            timeout=STOP_LIMIT_SECONDS,
            interval=0.05,
            message="every process of the cluster to exit",
        )
    except AssertionError:
        raise AssertionError(f"still alive: {worker.pids()}\n{worker.output()[-3000:]}") from None
    return time.monotonic() - started


# The sweeper, in-process.


@pytest.mark.django_db
def test_the_resync_sweeper_writes_presence_and_requeues_stale_runs():
    with mock.patch("integrations.engine.skeleton.requeue_stale_runs") as requeue:
        sweep(cluster="resync", presence_name="resync@host:1")
        first = WorkerPresence.objects.get(name="resync@host:1").seen_at
        sweep(cluster="resync", presence_name="resync@host:1")
    assert requeue.call_count == 2
    presence = WorkerPresence.objects.get()
    assert (presence.cluster, presence.seen_at > first) == ("resync", True)


@pytest.mark.django_db
def test_the_default_sweeper_only_writes_presence():
    with mock.patch("integrations.engine.skeleton.requeue_stale_runs") as requeue:
        sweep(cluster="default", presence_name="default@host:1")
    assert not requeue.called
    assert WorkerPresence.objects.get().cluster == "default"


@pytest.mark.django_db
def test_the_sweeper_survives_database_errors(caplog):
    broken = mock.patch(
        "integrations.engine.skeleton.requeue_stale_runs", side_effect=OperationalError("gone")
    )
    with broken, mock.patch("integrations.engine.cluster.connections") as connections:
        sweep(cluster="resync", presence_name="resync@host:1")
        assert "could not re-enqueue stale runs" in caplog.text
        assert connections.close_all.call_count == 1  # the next round starts on a fresh one
        assert WorkerPresence.objects.filter(name="resync@host:1").exists()  # the other step ran

        with mock.patch.object(WorkerPresence.objects, "update_or_create", side_effect=ValueError):
            sweep(cluster="default", presence_name="default@host:1")
        assert "could not write presence" in caplog.text


@pytest.mark.django_db
def test_a_clean_exit_forgets_the_presence():
    sweep(cluster="default", presence_name="default@host:1")
    sweep(cluster="default", presence_name="default@host:2")
    forget_presence(presence_name="default@host:1")
    assert list(WorkerPresence.objects.values_list("name", flat=True)) == ["default@host:2"]


@pytest.mark.django_db
def test_the_supervisors_connections_never_wait_long_on_a_lock():
    def wait_setting():
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA busy_timeout")
                return int(cursor.fetchone()[0])
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    before = wait_setting()
    bound_database_waits(sender=None, connection=connection)
    try:
        assert wait_setting() in (2000, "2s")
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"PRAGMA busy_timeout = {before}")
            else:
                cursor.execute("SET statement_timeout = %s", [before])


def test_it_refuses_an_unknown_cluster():
    with pytest.raises(CommandError, match="unknown cluster 'reports'"):
        call_command("run_cluster", "--cluster", "reports")


# Real processes, started the way the Procfile starts them.


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cluster", ["resync", "default"])
@pytest.mark.parametrize("group", [True, False], ids=["sigterm-to-group", "sigterm-to-main"])
def test_a_cluster_exits_within_seconds_of_sigterm(cluster, group, tmp_path):
    flush_redis_queue()
    worker = WorkerProcess(cluster, tmp_path / "worker.log").start().wait_until_running()
    try:
        elapsed = stop_and_time(worker, group=group)
    finally:
        worker.stop()
    print(f"{cluster} cluster, SIGTERM to {'group' if group else 'main'}: {elapsed:.2f}s")
    assert worker.proc.returncode == 0
    assert " has stopped." in worker.output()  # the orderly stop, not the grace period's kill


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_presence_appears_on_start_and_disappears_on_a_clean_stop(tmp_path):
    worker = WorkerProcess("resync", tmp_path / "worker.log").start()
    try:
        presence = wait_for(
            # The supervisor starts Django, then sweeps: a few seconds on a busy 2-core machine.
            lambda: WorkerPresence.objects.filter(cluster="resync").first(),
            timeout=20,
            message="the presence row",
        )
        assert presence.name.startswith("resync@") and presence.name.endswith(f":{worker.proc.pid}")
        first_seen = presence.seen_at
        wait_for(
            lambda: WorkerPresence.objects.get(pk=presence.pk).seen_at > first_seen,
            timeout=SWEEP_SECONDS + 3,
            message="the presence to be refreshed",
        )
        stop_and_time(worker, group=True)
    finally:
        worker.stop()
    assert not WorkerPresence.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_requeues_a_stale_run_within_seconds(sandbox, sandbox_account, tmp_path):
    """A run nobody works on, whose task the broker lost, moves again at the next sweep."""
    flush_redis_queue()
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 30)
    worker = WorkerProcess("resync", tmp_path / "worker.log").start().wait_until_running()
    try:
        wait_for(WorkerPresence.objects.exists, timeout=5, message="a first sweep")
        with mock.patch("integrations.engine.skeleton.enqueue_chunk"):  # the broker lost the task
            run = start_resync(woo, user=None, source="cli")
        long_ago = timezone.now() - timedelta(minutes=5)
        ResyncRun.objects.filter(pk=run.pk).update(created_at=long_ago)
        stale_at = time.monotonic()
        wait_for(
            lambda: run_now(run.pk).processed > 0,
            timeout=SWEEP_SECONDS + 5,
            interval=0.1,
            message=f"the stale run to move\n{worker.output()[-3000:]}",
        )
        print(f"stale run moving {time.monotonic() - stale_at:.2f}s after it went stale")
        wait_for(lambda: not run_now(run.pk).is_active, timeout=30, message="run to end")
    finally:
        worker.stop()
    assert (run_now(run.pk).status, run_now(run.pk).sent) == ("completed", 30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_in_progress_at_a_stop_completes_after_a_restart(sandbox, sandbox_account, tmp_path):
    flush_redis_queue()
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=240)
    make_offers(woo, 4000)  # 40 batch requests of 100, 4 requests/s: 10 s
    sandbox.configure("woocommerce", sandbox_account, latency_ms=200)
    worker = WorkerProcess("resync", tmp_path / "worker.log").start().wait_until_running()
    try:
        run = start_resync(woo, user=None, source="cli")
        wait_for(lambda: run_now(run.pk).processed >= 500, timeout=60, message="a first chunk")
        elapsed = stop_and_time(worker, group=True)
    finally:
        worker.stop()
    stopped_at = run_now(run.pk)
    assert stopped_at.is_active and stopped_at.processed < 4000
    print(f"stopped mid-run ({stopped_at.processed}/4000) in {elapsed:.2f}s")

    restarted = WorkerProcess("resync", tmp_path / "restarted.log").start()
    restarted_at = time.monotonic()
    try:
        wait_for(lambda: run_now(run.pk).processed > stopped_at.processed, message="a resume")
        print(f"moving again {time.monotonic() - restarted_at:.2f}s after the restart")
        wait_for(lambda: not run_now(run.pk).is_active, timeout=120, message="run to end")
    except AssertionError:
        raise AssertionError(f"{run_now(run.pk)!r}\n{restarted.output()[-3000:]}") from None
    finally:
        restarted.stop()
    run = run_now(run.pk)
    assert (run.status, run.processed, run.sent, run.failed) == ("completed", 4000, 4000, 0)
    assert len(sandbox.state("woocommerce", sandbox_account)["offers"]) == 4000  # none missing


@pytest.mark.parametrize("freeze", [True, False])
def test_a_worker_once_started_sets_its_start_up_heap_aside(settings, freeze):
    """django-q2 tells each worker process it starts (post_spawn): what it holds then is moved
    out of the garbage collector's way (gc.freeze), unless WORKER_GC_FREEZE is off."""
    from django_q.signals import post_spawn

    settings.WORKER_GC_FREEZE = freeze
    gc.unfreeze()
    try:
        post_spawn.send(sender="django_q", proc_name="Worker-1")
        assert (gc.get_freeze_count() > 1000) is freeze
    finally:
        gc.unfreeze()

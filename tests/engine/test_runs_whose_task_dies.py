"""A run whose task keeps dying (its worker killed, out of memory, past the task timeout) fails
after a bounded number of claims, with a reason; the runs that shared the dying worker with it
are not blamed (issue 24, item 4). The lease state machine and the runner, in process; with real
worker processes killed: tests/engine/test_runs_whose_task_dies_workers.py."""

from datetime import timedelta

import pytest
from django.core import mail
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
    for n in range(4):
        shop = sandbox_integration(sandbox, f"{sandbox_account}{n}", "woocommerce")
        make_offers(shop, 30, photos=0, prefix=f"D{n}-")
        shops.append(shop)
    return shops


def died_holding(run: ResyncRun) -> str:
    """The run as a task that died while driving it leaves it: leased, the lease expired."""
    token = ResyncRun.objects.claim(run.pk, run.cursor, lease_seconds=60)
    assert token
    ResyncRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    return token


def test_a_lease_that_expired_unreleased_is_counted_at_the_next_claim(shops, no_queue):
    run = start_resync(shops[0], source="cli")
    died_holding(run)
    assert ResyncRun.objects.suspect(run.pk)
    assert ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    run.refresh_from_db()
    assert run.lost_tasks == 1
    ResyncRun.objects.release(run.pk, run.lease_token)  # a clean end is not a death
    assert ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    assert ResyncRun.objects.get(pk=run.pk).lost_tasks == 1


def test_a_suspect_run_is_never_taken_beside_another(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 4
    settings.RESYNC_TASK_SECONDS = 30
    runs = [start_resync(shop, source="cli") for shop in shops]
    died_holding(runs[0])
    ResyncRun.objects.filter(pk=runs[1].pk).update(lost_tasks=1)  # died before, not moved on
    assert ResyncRun.objects.waiting_for_worker(exclude=0, limit=10) == [
        (runs[2].pk, 0),
        (runs[3].pk, 0),
    ]
    runner.process_chunk(runs[2].pk, 0)
    statuses = dict(ResyncRun.objects.values_list("pk", "status"))
    assert statuses[runs[2].pk] == statuses[runs[3].pk] == "completed"
    assert statuses[runs[0].pk] == "running" and statuses[runs[1].pk] == "queued"
    connection.close()


def test_a_suspect_run_is_driven_alone_and_forgiven_once_it_moved_on(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 4
    settings.RESYNC_TASK_SECONDS = 30
    suspect, waiting = start_resync(shops[0], source="cli"), start_resync(shops[1], source="cli")
    died_holding(suspect)
    runner.process_chunk(suspect.pk, 0)
    suspect.refresh_from_db()
    assert (suspect.status, suspect.sent, suspect.lost_tasks) == ("completed", 30, 0)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.processed) == ("queued", 0)  # not taken beside it
    connection.close()


def test_a_run_whose_task_dies_again_alone_fails_with_the_reason(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 4
    run, beside = start_resync(shops[0], source="cli"), start_resync(shops[1], source="cli")
    died_holding(run)
    died_holding(beside)
    # Both claimed again after the worker died: each driven alone; `run` dies again.
    token = ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    assert token and ResyncRun.objects.get(pk=run.pk).lost_tasks == 1
    ResyncRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    mail.outbox.clear()
    runner.process_chunk(run.pk, 0)
    run.refresh_from_db()
    assert (run.status, run.lost_tasks, run.processed) == ("failed", 2, 0)
    assert "ended without finishing 2 times in a row" in run.error
    assert "killed, ran out of memory or ran past its time limit" in run.error
    assert "WooCommerce" in run.error and "alone" in run.error
    assert len(mail.outbox) <= 1  # whoever started it is told once (no one here)
    runner.process_chunk(beside.pk, 0)  # the one that only shared the worker
    beside.refresh_from_db()
    assert (beside.status, beside.sent, beside.lost_tasks) == ("completed", 30, 0)
    connection.close()


def test_a_task_that_ends_without_moving_the_run_on_keeps_it_suspect(settings, shops, no_queue):
    settings.RESYNC_RUNS_PER_WORKER = 4
    run = start_resync(shops[0], source="cli")
    died_holding(run)
    token = ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    ResyncRun.objects.moved_on(run.pk, token, since=(0, 0, ""))  # nothing done
    assert ResyncRun.objects.get(pk=run.pk).lost_tasks == 1
    ResyncRun.objects.filter(pk=run.pk).update(processed=5)
    ResyncRun.objects.moved_on(run.pk, token, since=(0, 0, ""))
    assert ResyncRun.objects.get(pk=run.pk).lost_tasks == 0
    connection.close()

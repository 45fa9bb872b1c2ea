"""With a real resync cluster: one worker process drives ten runs; the channel of one of them
kills that worker (SIGKILL of the process that sent the request) every time the run sends. The
run fails with a reason after RESYNC_MAX_LOST_TASKS claims; the nine runs that shared the
worker with it complete (issue 24, item 4)."""

import pytest
from django.db import connection
from django.utils import translation

from integrations.engine import skeleton
from integrations.models import ResyncRun
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.hostile_channels import KILL, HostileChannel
from tests.workers import WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OFFERS = 150


def test_a_run_whose_worker_is_killed_each_time_fails_and_the_runs_beside_it_complete(
    sandbox, sandbox_account, tmp_path
):
    seen_beside: list[int] = []

    def hostile(method, path, query):
        if method == "POST" and path.endswith("/products/batch"):
            # Runs whose tasks are alive in the worker about to die (this one included).
            leased = ResyncRun.objects.exclude(lease_token="").filter(status="running").count()
            seen_beside.append(leased)
            connection.close()
            return KILL
        return None

    shops = []
    for n in range(9):
        shop = sandbox_integration(sandbox, f"{sandbox_account}{n}", "woocommerce")
        sandbox.configure("woocommerce", f"{sandbox_account}{n}", latency_ms=400)
        make_offers(shop, OFFERS, photos=0, prefix=f"K{n}-")
        shops.append(shop)
    culprit = sandbox_integration(sandbox, f"{sandbox_account}x", "woocommerce")
    make_offers(culprit, OFFERS, photos=0, prefix="KX-")
    with HostileChannel(sandbox.url, hostile) as channel:
        channel.point(culprit)
        runs = [start_resync(shop, source="cli") for shop in [culprit, *shops]]
        worker = WorkerProcess(
            "resync",
            tmp_path / "worker.log",
            Q_RESYNC_WORKERS=1,
            RESYNC_RUNS_PER_WORKER=10,
            RESYNC_SWEEP_SECONDS=1,
        ).start()
        try:
            wait_for(
                lambda: not ResyncRun.objects.filter(status__in=ResyncRun.ACTIVE_STATUSES).exists(),
                timeout=180,
                message="every run to end",
            )
        except AssertionError:
            states = list(ResyncRun.objects.values_list("pk", "status", "error"))
            raise AssertionError(f"{states}\n{worker.output()[-4000:]}") from None
        finally:
            worker.stop()
    culprit_run, *others = [ResyncRun.objects.get(pk=run.pk) for run in runs]
    assert len(channel.killed) == 2, channel.killed  # killed beside the others, then alone
    assert seen_beside[0] > 1, seen_beside  # the first death took other runs' tasks with it
    # The second death took fewer runs with it: the culprit ran apart. (Counted from the
    # database: a run of the first death whose lease the sweeper has not taken back yet still
    # counts, so "alone" shows as 1 or 2 depending on the sweeper's order.)
    assert seen_beside[-1] < seen_beside[0], seen_beside
    assert (culprit_run.status, culprit_run.lost_tasks) == ("failed", 2)
    with translation.override("pl"):  # the worker's language
        assert culprit_run.error == skeleton.lost_tasks_reason(culprit_run)
    for run in others:
        assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0), run.error
        assert run.lost_tasks == 0

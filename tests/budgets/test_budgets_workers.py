"""Budgets shared by real worker processes: two resync workers, two sellers on one Allegro
application, the sandbox counting the application's requests as Allegro does."""

import json
import uuid

import pytest
import requests

from integrations.models import ResyncRun
from integrations.presentation.run_figures import run_figures
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import WorkerProcess, flush_redis_queue, wait_for

pytestmark = [pytest.mark.slow]

APP_LIMIT, WINDOW = 40, 10  # the application's 9,000 a minute, scaled to 40 in 10 s


@pytest.fixture
def shared_app(sandbox, sandbox_account):
    """Two sandbox sellers on one (fresh) client id, the app limit enforced per 10 s."""
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    accounts = [f"{sandbox_account}a", f"{sandbox_account}b"]
    for account in accounts:
        sandbox.configure(
            "allegro",
            account,
            credentials={"client_id": client_id},
            minute_seconds=WINDOW,
            limits={"app_requests_per_minute": APP_LIMIT},
        )
    return client_id, accounts


def test_two_workers_spending_one_app_budget_never_exceed_it(
    transactional_db, sandbox, shared_app, tmp_path
):
    client_id, accounts = shared_app
    integrations = []
    for n, account in enumerate(accounts):
        integration = sandbox_integration(sandbox, account, "allegro", name=f"Seller {n}")
        integration.credentials = {**integration.credentials, "client_id": client_id}
        integration.save()
        make_offers(integration, 50, photos=0, prefix=f"S{n}-")
        integrations.append(integration)
    flush_redis_queue()
    worker = WorkerProcess(
        "resync",
        tmp_path / "resync.log",
        CHANNEL_LIMITS=json.dumps({"allegro": {"app": [[APP_LIMIT, WINDOW]]}}),
        Q_RESYNC_WORKERS="2",
    ).start()
    try:
        runs = [start_resync(i, source="cli") for i in integrations]

        def ended():
            return all(
                not r.is_active for r in ResyncRun.objects.filter(pk__in=[r.pk for r in runs])
            )

        try:
            wait_for(ended, timeout=120, message="both runs to end")
        except AssertionError:
            print(worker.output()[-6000:])
            for run in ResyncRun.objects.filter(pk__in=[r.pk for r in runs]):
                print(run_figures(run))
            raise
    finally:
        worker.stop()

    for run in ResyncRun.objects.filter(pk__in=[r.pk for r in runs]):
        assert (run.status, run.sent, run.failed) == ("completed", 50, 0), worker.output()[-3000:]
    counters = requests.get(
        f"{sandbox.url}/_sandbox/allegro/_apps/{client_id}/state", timeout=10
    ).json()["counters"]
    assert counters["requests"] >= 100
    assert counters["limit_violations"] == 0 and counters["throttled"] == 0
    assert max(counters["max_in_window"].values()) <= APP_LIMIT

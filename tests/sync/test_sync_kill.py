"""kill -9 of the `sync` process in the middle of a round (issue 26): after a restart every
change arrives, each exactly once — the answers recorded before the kill are not sent again,
and the requests the kill cut after they reached the channel are confirmed by reading it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from offers.models import PendingChange
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import ROOT, subprocess_env, wait_for

PATCH = "PATCH /sale/product-offers/{offerId}"
READ = "GET /sale/product-offers/{offerId}"


def start_sync(log_path):
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_sync"],
        cwd=ROOT,
        # A dead process's claim frees itself in 3 s. The 64 offers share one stock: sent
        # one PATCH each here (not one quantity command), so each write can be counted.
        env=subprocess_env(
            SYNC_POLL_SECONDS="0.2", SYNC_CLAIM_SECONDS="3", ALLEGRO_SYNC_COMMAND_MIN="1000"
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sync_process_killed_mid_round_sends_each_change_once_after_its_restart(
    sandbox, sandbox_account, change_offers, tmp_path
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 64)
    # Answers in 1 s, at most 32 PATCHes in flight: two waves of requests.
    sandbox.configure("allegro", sandbox_account, latency_ms=1000)

    def counted(endpoint):
        return sandbox.state("allegro", sandbox_account)["counters"]["by_endpoint"].get(endpoint, 0)

    change_offers(offers, stock=99)
    log_path = tmp_path / "sync.log"
    sync = start_sync(log_path)
    try:
        # The second wave has reached the channel (the first one's answers came back and
        # were recorded): kill -9 while it is in flight.
        wait_for(lambda: counted(PATCH) >= 40, timeout=60, message="the second wave of sends")
        time.sleep(0.3)
        os.killpg(sync.pid, signal.SIGKILL)
        sync.wait(10)
        rows = PendingChange.objects.filter(integration=allegro)
        confirmed = rows.filter(pending=False).count()
        in_doubt = rows.filter(pending=True, in_flight=True).count()
        assert confirmed >= 1 and in_doubt >= 1, (confirmed, in_doubt)
        time.sleep(1.5)  # the cut requests' values land at the channel meanwhile

        sync = start_sync(log_path)
        wait_for(
            lambda: not rows.filter(pending=True).exists(),
            timeout=60,
            message="every change delivered after the restart",
        )
    finally:
        if sync.poll() is None:
            os.killpg(sync.pid, signal.SIGKILL)
            sync.wait(10)
    held = sandbox.state("allegro", sandbox_account)["offers"]
    assert {held[str(1000 + n)]["stock"]["available"] for n in range(1, 65)} == {99}
    # Each of the 64 changes written exactly once: the ones recorded before the kill are not
    # sent again, the cut ones (their values at the channel) are confirmed by a read (a row
    # marked in flight whose request had not started yet is read, then sent: once).
    assert counted(PATCH) == 64
    assert counted(READ) == in_doubt

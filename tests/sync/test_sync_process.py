"""The `sync` process (Procfile, `make run`): `manage.py run_sync` picks up a change that
`manage.py import_offers` committed and the channel holds the new value within seconds; it stops
cleanly on SIGTERM."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.catalogue import make_offers, sandbox_integration
from tests.workers import ROOT, subprocess_env, wait_for


def test_the_procfile_runs_the_sync_process():
    procfile = (Path(ROOT) / "Procfile").read_text()
    assert "sync: python manage.py run_sync" in procfile.splitlines()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_sync_process_sends_an_imported_change_and_stops_on_sigterm(
    sandbox, sandbox_account, change_offers, tmp_path
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3)
    log_path = tmp_path / "sync.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_sync"],
            cwd=ROOT,
            env=subprocess_env(SYNC_POLL_SECONDS="0.2"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: "everyday sync: started" in log_path.read_text(),
                timeout=30,
                message="the sync process to start",
            )
            committed = time.monotonic()
            change_offers(offers[1:2], stock=88)

            def holds_new_value():
                held = sandbox.state("allegro", sandbox_account)["offers"].get(str(1002), {})
                return held.get("stock", {}).get("available") == 88

            wait_for(holds_new_value, timeout=30, message="the sandbox to hold stock 88")
            assert time.monotonic() - committed < 15
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "everyday sync: stopped" in log_path.read_text()

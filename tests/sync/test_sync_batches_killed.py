"""Everyday changes that go as asynchronous batches (integrations/sync/awaiting.py, Mirakl's
imports): the `sync` process killed with kill -9 between sending an import and saving the id
Mirakl answered. After a restart the import is found in Mirakl's list of imports (OF04) and
never sent twice; the change is confirmed when Mirakl reports it."""

import signal
import subprocess
import sys

import pytest

from integrations.models import ChannelBatch
from offers.models import PendingChange
from tests.catalogue import make_offers
from tests.hostile_channels import DELIVER_THEN_KILL, HostileChannel
from tests.mirakl_fixtures import frequencies_kept, held, mirakl_integration, seed
from tests.workers import ROOT, subprocess_env, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sync_process(log_path):
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_sync"],
        cwd=ROOT,
        env=subprocess_env(SYNC_POLL_SECONDS="0.2"),
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_sync_process_killed_after_sending_an_import_never_sends_it_twice(
    sandbox, sandbox_account, settings, change_offers, tmp_path
):
    mirakl = mirakl_integration(sandbox, sandbox_account, settings)
    offers = make_offers(mirakl, 3, photos=1)
    seed(sandbox, sandbox_account, [{"sku": str(1000 + n), "price": "1.00", "quantity": 1}
                                    for n in (1, 2, 3)])  # fmt: skip
    PendingChange.objects.filter(integration=mirakl).delete()  # the shop holds them
    imports_before = sandbox.state("mirakl", sandbox_account)["import_count"]
    killed = []

    def hostile(method, path, query):
        if method == "POST" and path.endswith("/offers/imports") and not killed:
            killed.append(path)
            return DELIVER_THEN_KILL
        return None

    log_path = tmp_path / "sync.log"
    with HostileChannel(sandbox.url, hostile) as channel:
        channel.point(mirakl)
        change_offers([offers[1]], stock=55)
        first = sync_process(log_path)
        try:
            assert first.wait(timeout=60) == -signal.SIGKILL, log_path.read_text()[-3000:]
        finally:
            if first.poll() is None:
                first.kill()
        [batch] = ChannelBatch.objects.filter(integration=mirakl)
        assert batch.status == "prepared" and batch.changes.get("submit_sent_at")
        assert sandbox.state("mirakl", sandbox_account)["import_count"] == imports_before + 1

        second = sync_process(log_path)
        try:
            wait_for(
                lambda: (
                    not ChannelBatch.objects.filter(integration=mirakl, recorded=False).exists()
                ),
                timeout=60,
                message="the import to be found and recorded",
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        finally:
            if second.poll() is None:
                second.kill()

    batch.refresh_from_db()
    assert (batch.status, batch.changes.get("import_found")) == ("done", True)
    assert sandbox.state("mirakl", sandbox_account)["import_count"] == imports_before + 1
    assert held(sandbox, sandbox_account)["1002"]["quantity"] == 55
    assert not PendingChange.objects.filter(integration=mirakl, pending=True).exists()
    assert frequencies_kept(sandbox, sandbox_account)["OF04"] >= 1

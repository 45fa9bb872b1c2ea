"""With a real resync cluster: one worker process drives ten runs side by side; the channel of
one of them answers what the issue found from outside (a listings report of one endless line,
listing prices of "1e999999999" and an answer of millions of entries). That run fails with a
reason a seller can act on; the nine others complete; the worker process never dies and its
memory stays small (issue 24, item 3)."""

import json
import time
from pathlib import Path

import pytest
from django.utils import timezone

from integrations.engine.runner import process_chunk
from integrations.models import ResyncRun
from integrations.services import drift
from integrations.services.runs import start_resync
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers, sandbox_integration
from tests.hostile_channels import (
    HostileChannel,
    answer_of_entries,
    gzip_document,
    json_answer,
    report_of_one_endless_line,
)
from tests.workers import WorkerProcess, live_processes, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OFFERS = 300
MiB = 1024 * 1024


def woocommerce_culprit(sandbox, account, settings):
    """A shop whose product list says every price is 1e999999999 (page 1), then answers
    2.8 million entries (page 2)."""
    shop = sandbox_integration(sandbox, account, "woocommerce")
    make_offers(shop, 5, photos=0, prefix="W-")
    prices = json_answer(
        json.dumps(
            [{"id": n, "name": f"P{n}", "regular_price": "1e999999999"} for n in range(1, 101)]
        ).encode()
    )
    entries = json_answer(answer_of_entries())

    def hostile(method, path, query):
        if method == "GET" and path.endswith("/wp-json/wc/v3/products"):
            return prices if "page=1&" in f"{query}&" else entries
        return None

    return shop, hostile, "CHANNEL_MAX_ANSWER_ENTRIES"  # the worker speaks Polish


def amazon_culprit(sandbox, account, settings):
    """A seller whose listings report is one line of 64 MiB (65 KB of GZIP)."""
    settings.AMAZON_FEED_THRESHOLD = 10
    sandbox.configure(
        "amazon",
        account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        report_processing_seconds=0.2,
        compress_documents=True,
    )
    shop = amazon_integration(sandbox, account)
    make_offers(shop, 20, photos=0, prefix="A-")
    run = start_resync(shop, source="cli")  # listed first, so that the report has rows
    for _ in range(100):
        run.refresh_from_db()
        if not run.is_active:
            break
        if run.status == "paused":
            time.sleep(min(max((run.paused_until - timezone.now()).total_seconds(), 0), 5))
            ResyncRun.objects.filter(pk=run.pk).update(status="queued")
        process_chunk(run.pk, run.cursor)
    assert (run.status, run.sent) == ("completed", 20)
    report = gzip_document(report_of_one_endless_line())

    def hostile(method, path, query):
        return report if method == "GET" and "/s3/reports/" in path else None

    return shop, hostile, "256 KB (CHANNEL_MAX_LINE_BYTES)"


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@pytest.mark.parametrize("culprit", [woocommerce_culprit, amazon_culprit], ids=["woo", "amazon"])
def test_a_worker_driving_ten_runs_survives_one_channels_worst_answers(
    sandbox, sandbox_account, settings, tmp_path, culprit
):
    shops = []
    for n in range(9):
        account = f"{sandbox_account}{n}"
        shop = sandbox_integration(sandbox, account, "woocommerce")
        sandbox.configure("woocommerce", account, latency_ms=300)
        make_offers(shop, OFFERS, photos=0, prefix=f"N{n}-")
        shops.append(shop)
    hostile_shop, hostile, reason = culprit(sandbox, f"{sandbox_account}x", settings)
    with HostileChannel(sandbox.url, hostile) as channel:
        channel.point(hostile_shop)
        check = drift.start_check(hostile_shop, user=None, source="cli")
        runs = [start_resync(shop, source="cli") for shop in shops]
        worker = WorkerProcess(
            "resync", tmp_path / "worker.log", Q_RESYNC_WORKERS=1, RESYNC_RUNS_PER_WORKER=10
        ).start()
        try:
            worker.wait_until_running()
            qcluster = worker.qcluster_pid()
            first = {p.pid for p in live_processes() if p.ppid == qcluster}
            wait_for(
                lambda: not ResyncRun.objects.filter(status__in=ResyncRun.ACTIVE_STATUSES).exists(),
                timeout=240,
                message="every run to end",
            )
            alive = {p.pid for p in live_processes() if p.ppid == qcluster}
            peaks = {pid: peak_rss(pid) for pid in alive}
        except AssertionError:
            states = list(ResyncRun.objects.values_list("pk", "kind", "status", "error"))
            raise AssertionError(f"{states}\n{worker.output()[-4000:]}") from None
        finally:
            worker.stop()
        assert channel.served, "the hostile answer was not asked for"
    check.refresh_from_db()
    assert check.status == "failed"
    assert reason in check.error, check.error
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0), run.error
    # No worker process died (none was started again), and none grew large.
    assert first <= alive, (first, alive)
    assert "reincarnated" not in worker.output()
    assert max(peaks.values()) < 300 * MiB, peaks

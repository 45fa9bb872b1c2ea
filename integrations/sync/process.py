"""The `sync` process (Procfile; `manage.py run_sync`): everyday sync's dispatcher loop.

Every SYNC_POLL_SECONDS it looks for integrations with due changes and gives each its own
thread (at most SYNC_THREADS at once, one per integration), which dispatches rounds until
nothing is due. SIGTERM/SIGINT stop it: no new round starts, the rounds under way end within
their send's deadline (SYNC_SEND_SECONDS), and whatever they did not record is pending again.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection

from integrations.engine import store as engine_store
from integrations.models import Integration
from integrations.sync import dispatch, freshness

logger = logging.getLogger("integrations.sync")

PRUNE_SECONDS = 300


def round_spacing(integration_id: int) -> float:
    """Seconds one send of changes takes of the integration's request pace
    (ChannelAdapter.changes_spacing); 0 when it cannot tell."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return 0.0
    try:
        return engine_store.adapter_for(integration).changes_spacing()
    except Exception:  # noqa: BLE001 - pacing is an optimisation: never stop the sends
        logger.exception("integration %s: its pace could not be read", integration_id)
        return 0.0


class SyncProcess:
    def __init__(self, *, poll_seconds: float | None = None, threads: int | None = None):
        self.poll = poll_seconds or settings.SYNC_POLL_SECONDS
        self.threads = threads or settings.SYNC_THREADS
        self.stopping = threading.Event()
        self.running: dict[int, object] = {}
        # When each integration's next round may start (time.monotonic): its rounds spread
        # over its request budgets (round_spacing × the sends of the last round).
        self.next_round: dict[int, float] = {}

    def stop(self, *_args) -> None:
        self.stopping.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def drain(self, integration_id: int) -> None:
        """Rounds for one integration while they find work and the process is not stopping,
        each no sooner than the pace of its request budgets allows (a batch channel's: one
        WooCommerce batch a second carries what a second brought, instead of a request per
        change until the minute's 60 are gone)."""
        try:
            spacing = round_spacing(integration_id)
            while not self.stopping.is_set():
                wait = self.next_round.get(integration_id, 0.0) - time.monotonic()
                if wait > 0 and self.stopping.wait(wait):
                    return
                started = time.monotonic()
                outcome = dispatch.dispatch(integration_id)
                self.next_round[integration_id] = started + spacing * outcome.sends
                if outcome.sent or outcome.failed or outcome.retried:
                    logger.info(
                        "integration %s: %s sent, %s refused, %s to retry, %s deferred",
                        integration_id,
                        outcome.sent,
                        outcome.failed,
                        outcome.retried,
                        outcome.deferred,
                    )
                if not (outcome.sent or outcome.failed or outcome.retried or outcome.dropped):
                    return
        except Exception:
            logger.exception("integration %s: a sync round broke", integration_id)
        finally:
            connection.close()

    def run(self, *, once: bool = False) -> None:
        pruned = 0.0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="sync") as pool:
            while not self.stopping.is_set():
                close_old_connections()
                self.running = {i: f for i, f in self.running.items() if not f.done()}
                try:
                    due = dispatch.integrations_due()
                    if time.monotonic() - pruned > PRUNE_SECONDS:
                        freshness.prune_deliveries()
                        pruned = time.monotonic()
                except Exception:
                    logger.exception("sync: looking for due changes broke")
                    due = []
                for integration_id in due:
                    if integration_id not in self.running:
                        self.running[integration_id] = pool.submit(self.drain, integration_id)
                if once:
                    for future in list(self.running.values()):
                        future.result()
                    break
                self.stopping.wait(self.poll)
        connection.close()

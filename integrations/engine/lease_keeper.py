"""Keeping the leases of the runs a process drives: one thread per process renews them all.

A task holds its run under a lease (models/leases.py) that expires unless renewed: a task
whose worker dies frees its run within RESYNC_LEASE_SECONDS. While a task works, its
`LeaseKeeper` is registered with the process's lease thread, which renews each registered
lease every quarter of RESYNC_LEASE_SECONDS (at least every 0.5 s), notes a lease another task
took (`LeaseKeeper.lost`; the step stops before its next write) and calls the step's `stop`
once when the run is being cancelled (work in flight stops sending).

The thread is made when the first lease is registered and ends when the last one leaves; a
lease leaving waits for its renewal in flight, so nothing renews it once its task let it go.
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.db import connection

from integrations.models import ResyncRun

logger = logging.getLogger("integrations.engine.skeleton")


def lease_seconds() -> int:
    return settings.RESYNC_LEASE_SECONDS


def renew_every() -> float:
    return max(lease_seconds() / 4, 0.5)


class LeaseKeeper:
    """One task's lease, kept alive by the process's lease thread while the task works (a
    context manager around the task's work)."""

    def __init__(self, run_id: int, token: str):
        self.run_id, self.token = run_id, token
        # Called once when the run is being cancelled: the step in flight stops sending.
        self.on_cancel = None
        self.lost = threading.Event()
        self.due = 0.0
        self.lock = threading.Lock()  # held while the lease is renewed
        self.kept = False

    def __enter__(self):
        _LEASES.add(self)
        return self

    def __exit__(self, *exc):
        _LEASES.remove(self)

    def renew(self) -> bool:
        """Renew the lease (the lock held); False when it is no longer kept: another task
        took it, or renewing it failed."""
        try:
            if not ResyncRun.objects.renew(self.run_id, self.token, lease_seconds=lease_seconds()):
                self.lost.set()
                return False
            status = ResyncRun.objects.filter(pk=self.run_id).values_list("status", flat=True)
            if self.on_cancel and status.first() == ResyncRun.Status.CANCELLING:
                self.on_cancel()
                self.on_cancel = None
        except Exception:
            logger.exception("resync %s: the lease could not be renewed", self.run_id)
            connection.close()  # a broken connection is not used for the other leases
            return False
        return True


class _Leases:
    """The process's lease thread and the leases it keeps."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keepers: set[LeaseKeeper] = set()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._wake = threading.Event()

    def add(self, keeper: LeaseKeeper) -> None:
        keeper.due = time.monotonic() + renew_every()
        keeper.kept = True
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread is not its own
                self._keepers, self._thread, self._pid = set(), None, os.getpid()
            self._keepers.add(keeper)
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep, name="leases", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, keeper: LeaseKeeper) -> None:
        with keeper.lock:  # a renewal in flight ends first
            keeper.kept = False
            with self._lock:
                self._keepers.discard(keeper)
        self._wake.set()

    def _keep(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._keepers:
                        self._thread = None
                        return
                    keepers = sorted(self._keepers, key=lambda k: k.due)
                for keeper in keepers:
                    if keeper.due > time.monotonic():
                        continue
                    with keeper.lock:
                        if not keeper.kept:
                            continue
                        keeper.due = time.monotonic() + renew_every()
                        if not keeper.renew():
                            keeper.kept = False
                            with self._lock:
                                self._keepers.discard(keeper)
                with self._lock:
                    first = min((k.due for k in self._keepers), default=time.monotonic())
                self._wake.wait(max(first - time.monotonic(), 0.0))
                self._wake.clear()
        finally:
            connection.close()


_LEASES = _Leases()

"""Run a django-q2 cluster that stops when told to, and sweep for stale resync runs.

Why a supervisor: django-q2 1.11's `qcluster` does not exit on SIGTERM to its process group,
which is how systemd (KillMode=control-group), honcho and container runtimes stop a service
(compare django-q2 issue #346). Its Sentinel and the worker, pusher and monitor processes leave
SIGTERM at the default action, so they die at once. The main process's handler then calls
`stop_event.set()`; a multiprocessing Event's set() waits, without a timeout, for every process
sleeping in `stop_event.wait()` to acknowledge the wake-up. The Sentinel was sleeping there
(the guard loop) and is dead, so the main process waits forever. SIGTERM to the main process
alone works: the Sentinel stops the pusher, lets each worker finish its task, and exits.

So `manage.py run_cluster` starts `qcluster` as a child in a session of its own, where a signal
sent to our process group never reaches it, and turns our SIGTERM/SIGINT into SIGTERM to the
child's main process only: the orderly stop. Whatever is still alive CLUSTER_STOP_GRACE_SECONDS
later (a worker deep in a long task) is killed with the child's process group; at most the task
in flight is lost (a resync chunk is sent again once its run's lease expires). If we are killed
with SIGKILL, the kernel sends the child SIGTERM (PR_SET_PDEATHSIG), so no cluster is orphaned.

In between, the supervisor sweeps every RESYNC_SWEEP_SECONDS: it writes this cluster's
WorkerPresence and, for the resync cluster, re-enqueues stale runs and wakes paused ones. A
paused run is not left for the next round: once a second the supervisor looks up when the first
pause ends and sweeps WAKE_LEAD_SECONDS before it (SweepSchedule). It is single-threaded and
never forks Django: the child is exec'd and inherits no database connection.
"""

import ctypes
import gc
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created
from django.utils import timezone

from integrations.engine import skeleton
from integrations.models import ResyncRun, WorkerPresence

logger = logging.getLogger(__name__)

DEFAULT_CLUSTER = "default"
TICK_SECONDS = 0.1
# How often the resync supervisor looks up when the next pause ends (one aggregate query).
WAKE_LOOK_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
SWEEP_DATABASE_WAIT_MS = 2000


def cluster_names() -> list[str]:
    return [DEFAULT_CLUSTER, *settings.Q_CLUSTER.get("ALT_CLUSTERS", {})]


def sweep(*, cluster: str, presence_name: str) -> None:
    """One round of the sweeper. Never raises: a failed step is logged and tried next round."""
    _attempt("write presence", _write_presence, cluster=cluster, presence_name=presence_name)
    if cluster == skeleton.RESYNC_CLUSTER:
        _attempt("re-enqueue stale runs", skeleton.requeue_stale_runs)


def forget_presence(*, presence_name: str) -> None:
    _attempt("delete presence", WorkerPresence.objects.filter(name=presence_name).delete)


def _write_presence(*, cluster: str, presence_name: str) -> None:
    WorkerPresence.objects.update_or_create(
        name=presence_name, defaults={"cluster": cluster, "seen_at": timezone.now()}
    )


def _attempt(what: str, step, **kwargs):
    """The step's result, or None when it raised."""
    try:
        return step(**kwargs)
    except Exception:
        # The database or the broker is away, or a bug: the next round tries again on a fresh
        # connection; the cluster itself keeps running either way.
        logger.exception("cluster sweeper could not %s", what)
        connections.close_all()
        return None


class SweepSchedule:
    """When the sweeper sweeps: every `every` seconds and, when it `wakes` paused runs (the
    resync cluster), as soon as the first pause ends within skeleton.WAKE_LEAD_SECONDS — looked
    up every WAKE_LOOK_SECONDS. A pause is at least MAX_BUDGET_WAIT long when a budget holds
    the run, so it is seen well before it ends. Waking at the next round instead cost up to
    `every` seconds a pause, which a window that binds never gives back (bench/README.md,
    issue 17)."""

    def __init__(self, every: float, *, wakes: bool):
        self.every = every
        self.wakes = wakes
        self.next_sweep = time.monotonic()
        self.next_look = 0.0
        self.wake_at: float | None = None  # epoch seconds

    def due(self) -> bool:
        now = time.monotonic()
        if now >= self.next_sweep:
            return True
        if self.wakes and now >= self.next_look:
            self.next_look = now + WAKE_LOOK_SECONDS
            first = _attempt("look up the next pause's end", ResyncRun.objects.next_wake)
            self.wake_at = first.timestamp() if first else None
        return self.wake_at is not None and time.time() >= (
            self.wake_at - skeleton.WAKE_LEAD_SECONDS
        )

    def swept(self) -> None:
        now = time.monotonic()
        self.next_sweep = now + self.every
        # The woken runs are no longer paused: look again for the next pause a little later
        # (at most one sweep a WAKE_LOOK_SECONDS, even when sweeps keep failing).
        self.wake_at, self.next_look = None, now + WAKE_LOOK_SECONDS


def bound_database_waits(sender, connection, **kwargs) -> None:
    """Python runs our signal handlers between statements, not while a driver waits on a lock
    (SQLite's busy timeout is 30 s): the supervisor's connections wait 2 s at most, so a sweep
    never holds up a stop for long. A sweep that gives up is tried again next round."""
    if connection.vendor == "sqlite":
        statement = f"PRAGMA busy_timeout = {SWEEP_DATABASE_WAIT_MS}"
    elif connection.vendor == "postgresql":
        statement = f"SET statement_timeout = {SWEEP_DATABASE_WAIT_MS}"
    else:
        return
    with connection.cursor() as cursor:
        cursor.execute(statement)


def settle_worker_heap(sender=None, proc_name: str = "", **kwargs) -> None:
    """django-q2's `post_spawn`, in each worker process it starts: what the worker holds once
    started (Django, the project's modules, their settings and caches) lives as long as the
    worker, so it is moved out of the garbage collector's way (`gc.freeze`). A resync chunk
    builds thousands of objects; each full collection it triggers would otherwise walk that
    whole heap again (bench/README.md, "The worker's start-up heap"). WORKER_GC_FREEZE=0 keeps
    Python's default."""
    if settings.WORKER_GC_FREEZE:
        gc.collect()
        gc.freeze()
        logger.info("%s: %s objects of its start-up set aside", proc_name, gc.get_freeze_count())


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_qcluster(cluster: str) -> subprocess.Popen:
    env = dict(os.environ)
    if cluster == DEFAULT_CLUSTER:
        env.pop("Q_CLUSTER_NAME", None)
    else:
        env["Q_CLUSTER_NAME"] = cluster
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


class ClusterSupervisor:
    def __init__(self, cluster: str, *, sweep_seconds: float, grace_seconds: float):
        self.cluster = cluster
        self.sweep_seconds = sweep_seconds
        self.grace_seconds = grace_seconds
        self.presence_name = f"{cluster}@{socket.gethostname()}:{os.getpid()}"
        self.child: subprocess.Popen | None = None
        self.stop_deadline: float | None = None  # monotonic time; set once a stop is asked

    def run(self) -> int:
        """Run the cluster until it is stopped (0) or ends on its own (1: restart us)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        connection_created.connect(bound_database_waits)
        self.child = start_qcluster(self.cluster)
        logger.info("%s cluster: qcluster started (pid %s)", self.cluster, self.child.pid)
        if self.stop_deadline is not None:  # a signal came before the child existed
            self._signal_child(signal.SIGTERM)
        try:
            self._supervise()
        finally:
            self._signal_child(signal.SIGKILL)  # stragglers of an orderly stop, if any
            self.child.wait()
            forget_presence(presence_name=self.presence_name)
            connections.close_all()
        if self.stop_deadline is None:
            logger.error("%s cluster: qcluster exited (%s)", self.cluster, self.child.returncode)
            return 1
        logger.info("%s cluster stopped", self.cluster)
        return 0

    def _supervise(self) -> None:
        schedule = SweepSchedule(self.sweep_seconds, wakes=self.cluster == skeleton.RESYNC_CLUSTER)
        while not self._child_exited():
            if self.stop_deadline is not None:
                if time.monotonic() >= self.stop_deadline:
                    logger.warning("%s cluster: killed what was still running", self.cluster)
                    self._signal_child(signal.SIGKILL)
                    self.stop_deadline = math.inf
            elif schedule.due():
                # As around a request: honour CONN_MAX_AGE, drop a broken connection.
                _attempt("drop old connections", close_old_connections)
                sweep(cluster=self.cluster, presence_name=self.presence_name)
                schedule.swept()
            time.sleep(TICK_SECONDS)

    def _on_signal(self, signum, frame) -> None:
        if self.stop_deadline is None:
            self.stop_deadline = time.monotonic() + self.grace_seconds
            self._signal_child(signal.SIGTERM)
        else:  # asked twice (Ctrl-C again): stop waiting
            self.stop_deadline = time.monotonic()

    def _child_exited(self) -> bool:
        """True once qcluster's main process has exited; it stays unreaped (a zombie), so its
        pid, which names its process group, cannot be reused while we still signal the group."""
        result = os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return result is not None

    def _signal_child(self, signum: int) -> None:
        if self.child is None or self.child.returncode is not None:
            return
        try:
            if signum == signal.SIGKILL:
                os.killpg(self.child.pid, signum)  # the child leads its own process group
            else:
                os.kill(self.child.pid, signum)
        except ProcessLookupError:
            pass

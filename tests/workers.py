"""Real django-q2 worker processes for tests: the resync cluster against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_subprocess() -> str:
    """The URL of the database the tests run on (pytest-django's test database)."""
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{sd['NAME']}"
    host = sd.get("HOST") or "127.0.0.1"
    port = sd.get("PORT") or 5432
    user = sd.get("USER") or "postgres"
    password = f":{sd['PASSWORD']}" if sd.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{sd['NAME']}"


def subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url_for_subprocess(),
            "SECRET_KEY": env.get("SECRET_KEY", "tests-only"),
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            # Short lease and staleness so a killed worker's run resumes within seconds.
            "RESYNC_LEASE_SECONDS": "8",
            "RESYNC_HEARTBEAT_STALE_SECONDS": "5",
            "Q_RESYNC_WORKERS": "2",
            "BUDGET_STORE_PATH": str(settings.BUDGET_STORE_PATH),
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class WorkerProcess:
    """A cluster started the way the Procfile starts it: `manage.py run_cluster --cluster …`.

    The supervisor runs in its own process group, qcluster (sentinel, pusher, monitor, workers)
    in another one: `.kill()` is kill -9 of both, `.stop()` is SIGTERM to the supervisor's group
    (what honcho, systemd and container runtimes do).
    """

    def __init__(self, cluster: str, log_path: Path, **env):
        self.cluster = cluster
        self.log_path = log_path
        self.env = env
        self.proc = None

    def start(self):
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_cluster", "--cluster", self.cluster],
            cwd=ROOT,
            env=subprocess_env(**self.env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_until_running(self, timeout=30.0):
        wait_for(
            lambda: self.qcluster_pid() and " running." in self.output(),
            timeout=timeout,
            message=f"the {self.cluster} cluster to run",
        )
        return self

    def qcluster_pid(self) -> int | None:
        """The qcluster main process: the supervisor's child, leader of its own group."""
        children = [p for p in live_processes() if p.ppid == self.proc.pid]
        return children[0].pid if children else None

    def pids(self) -> set[int]:
        """Every live process of this cluster: the supervisor's group and qcluster's group."""
        groups = {self.proc.pid}
        if qcluster := self.qcluster_pid():
            groups.add(qcluster)
        return {p.pid for p in live_processes() if p.pgid in groups}

    def kill(self):
        """kill -9 of the cluster: supervisor, sentinel, pusher, monitor and workers alike."""
        if self.proc and self.proc.poll() is None:
            qcluster = self.qcluster_pid()
            os.killpg(self.proc.pid, signal.SIGKILL)
            if qcluster:
                os.killpg(qcluster, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, *, group=True):
        """SIGTERM to the supervisor's process group (the way process managers stop a service),
        or to the supervisor alone."""
        if group:
            os.killpg(self.proc.pid, signal.SIGTERM)
        else:
            os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class LiveProcess(NamedTuple):
    pid: int
    ppid: int
    pgid: int


def live_processes() -> list[LiveProcess]:
    """Processes of this machine that have not exited (zombies count as exited), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        state, ppid, pgid = stat[stat.rindex(")") + 2 :].split()[:3]
        if state not in ("Z", "X"):
            found.append(LiveProcess(int(entry.name), int(ppid), int(pgid)))
    return found


def flush_redis_queue():
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        redis.from_url(url).flushdb()


@pytest.fixture
def resync_worker(transactional_db, tmp_path):
    """A started resync cluster (`manage.py run_cluster --cluster resync`).

    Use with transactional tests (the worker sees only committed data). `.kill()` is kill -9,
    `.start()` starts it again.
    """
    flush_redis_queue()
    worker = WorkerProcess("resync", tmp_path / "resync-worker.log").start()
    yield worker
    worker.stop()


def wait_for(predicate, timeout=60.0, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")

"""Real django-q2 worker processes for tests: the resync cluster against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    """`manage.py qcluster` in its own process group (so kill -9 takes the whole cluster)."""

    def __init__(self, cluster: str, log_path: Path, **env):
        self.cluster = cluster
        self.log_path = log_path
        self.env = env
        self.proc = None

    def start(self):
        env = subprocess_env(**self.env)
        if self.cluster != "default":
            env["Q_CLUSTER_NAME"] = self.cluster
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self):
        """kill -9 of the cluster: sentinel, pusher and workers alike."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def flush_redis_queue():
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        redis.from_url(url).flushdb()


@pytest.fixture
def resync_worker(transactional_db, tmp_path):
    """A started resync cluster (`Q_CLUSTER_NAME=resync manage.py qcluster`).

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

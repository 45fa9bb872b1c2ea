"""Shared bench plumbing: a throwaway SQLite database, a sandbox and a resync worker process.

Benchmarks print figures; they assert nothing. Run them from the project root with the venv's
python, e.g. `.venv/bin/python bench/resync_engine.py`.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = Path(tempfile.mkdtemp(prefix="xsale-bench-"))
DB_PATH = WORKDIR / "bench.sqlite3"

os.environ.setdefault("DATABASE_URL", f"sqlite:///{DB_PATH}")
# The embedded budget store (used when REDIS_URL is unset): a throwaway file, never the
# worktree's budgets.sqlite3 (a bench must not inherit or leave budget state).
os.environ.setdefault("BUDGET_STORE_PATH", str(WORKDIR / "budgets.sqlite3"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "xsale.settings",
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "MEDIA_ROOT": str(WORKDIR / "media"),
        "LOG_LEVEL": "WARNING",
        # The sandbox runs on 127.0.0.1 (xsale/urlsafety.py refuses it otherwise).
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
)
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Process:
    def __init__(self, args, *, env=None, name="proc"):
        self.log = (WORKDIR / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def start_sandbox() -> tuple[Process, str]:
    port = free_port()
    proc = Process(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
        name="sandbox",
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(f"{url}/_sandbox/health", timeout=1).raise_for_status()
            return proc, url
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError("sandbox did not start")


def start_resync_worker(workers=2, name="resync-worker", **env) -> Process:
    return Process(
        [sys.executable, "manage.py", "qcluster"],
        env={"Q_CLUSTER_NAME": "resync", "Q_RESYNC_WORKERS": str(workers), **env},
        name=name,
    )


class Sweeper:
    """Calls the resync sweeper (wake paused runs, re-enqueue stale ones) every few seconds.

    On main a resync cluster sweeps only through django-q2's once-a-minute schedule; the
    supervisor that sweeps every RESYNC_SWEEP_SECONDS (5 s, `run_cluster`) is not merged yet.
    Benches that pause runs stand in for it from the bench process.
    """

    def __init__(self, every=5.0):
        import threading

        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sweeper")

    def _loop(self):
        from django.db import connection

        from integrations.engine.skeleton import requeue_stale_runs

        while not self._stop.wait(self.every):
            try:
                requeue_stale_runs()
            except Exception as exc:  # noqa: BLE001 - a bench keeps going
                print(f"sweeper: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def process_group_rss_kib(pgid: int) -> dict[int, int]:
    """VmRSS of every process in a process group (the qcluster sentinel and its workers)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[int(entry.name)] = int(line.split()[1])
        except (OSError, ProcessLookupError, ValueError):
            continue
    return out


def sandbox_configure(url, channel, account, **config):
    requests.post(f"{url}/_sandbox/{channel}/{account}/config", json=config, timeout=10)


def sandbox_state(url, channel, account) -> dict:
    return requests.get(f"{url}/_sandbox/{channel}/{account}/state", timeout=30).json()

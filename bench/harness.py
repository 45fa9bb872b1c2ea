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
from collections import Counter
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
    """Runs the resync sweeper (wake paused runs, re-enqueue stale ones) from the bench process
    on `run_cluster`'s schedule: every few seconds, and as soon as a paused run is about to be
    due (integrations/engine/cluster.py, SweepSchedule).

    The benches start a bare `qcluster` (its process group is what they sample); this stands in
    for the supervisor `manage.py run_cluster --cluster resync` that sweeps in a deployment.
    """

    def __init__(self, every=5.0):
        import threading

        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sweeper")

    def _loop(self):
        from django.db import connection

        from integrations.engine.cluster import TICK_SECONDS, SweepSchedule
        from integrations.engine.skeleton import requeue_stale_runs

        schedule = SweepSchedule(self.every, wakes=True)
        schedule.swept()  # the first round after `every`, as before
        while not self._stop.wait(TICK_SECONDS):
            if not schedule.due():
                continue
            try:
                requeue_stale_runs()
            except Exception as exc:  # noqa: BLE001 - a bench keeps going
                print(f"sweeper: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                schedule.swept()
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


def sandbox_state(url, channel, account, *, offers=True) -> dict:
    query = "" if offers else "?offers=0"
    return requests.get(f"{url}/_sandbox/{channel}/{account}/state{query}", timeout=60).json()


def allegro_app_state(url, client_id) -> dict:
    return requests.get(f"{url}/_sandbox/allegro/_apps/{client_id}/state", timeout=30).json()


def group_pids(pgid: int) -> list[int]:
    """Live processes of a process group (the qcluster sentinel and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid:
                pids.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return pids


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


class GroupSampler:
    """Samples every process of a process group from /proc every `every` seconds, in a thread:
    CPU seconds (utime + stime, the last value seen per pid, so a process that exits keeps
    what it used up to its last sample), peak VmRSS and VmHWM per pid, its threads (`Threads:`:
    the peak and how often each count was seen) and its command line."""

    def __init__(self, pgid: int, every=0.5):
        import threading

        self.pgid, self.every = pgid, every
        self.cpu: dict[int, float] = {}
        self.rss_kib: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.threads: dict[int, Counter] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sampler")
        self.started = self.ended = None

    def sample(self):
        tick = os.sysconf("SC_CLK_TCK")
        for pid in group_pids(self.pgid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                if pid not in self.names:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    self.names[pid] = cmd.decode(errors="replace").strip()[:80]
            except (OSError, ValueError, IndexError):
                continue
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    kib = int(line.split()[1])
                    self.rss_kib[pid] = max(self.rss_kib.get(pid, 0), kib)
                elif line.startswith("Threads:"):
                    self.threads.setdefault(pid, Counter())[int(line.split()[1])] += 1

    def _loop(self):
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self):
        self.started = time.time()
        self.sample()
        self.base = dict(self.cpu)  # CPU used before the measured period (start-up)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.sample()
        self.ended = time.time()
        self._stop.set()
        self._thread.join(5)

    def threads_seen(self, pid: int) -> tuple[int, int]:
        """(the most threads `pid` had in a sample, the count it had most often)."""
        seen = self.threads.get(pid) or Counter({0: 1})
        return max(seen), seen.most_common(1)[0][0]

    def used(self) -> dict[int, float]:
        """CPU seconds per pid within the measured period."""
        return {pid: cpu - self.base.get(pid, 0.0) for pid, cpu in self.cpu.items()}

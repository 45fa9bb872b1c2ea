"""p95 latency of the V2 integration page, idle and while a resync of that integration runs.

Standalone: starts its own channel sandbox, web server and resync worker on a temporary SQLite
database, seeds the demo catalogue, measures, stops everything. Bounded in time (--max-seconds).

    .venv/bin/python bench/page_latency.py [--offers 3000] [--requests 200] [--channel allegro]

Prints one JSON object: p50/p95/max in milliseconds for both phases and the run's progress.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Processes:
    def __init__(self, workdir: Path, env: dict):
        self.workdir, self.env, self.procs = workdir, env, []

    def start(self, name: str, args: list[str], **extra_env) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [PYTHON, *args],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def log_in(session: requests.Session, base: str) -> None:
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={
            "username": "demo",
            "password": "demo",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    if "/login/" in response.url:
        raise RuntimeError("could not log in as demo/demo")


def measure(session: requests.Session, url: str, count: int, deadline: float, keep_going=None):
    samples = []
    for n in range(count):
        if time.monotonic() > deadline:
            break
        if keep_going and n % 20 == 0 and not keep_going():
            break
        started = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--channel", default="allegro", choices=["allegro", "zalando", "woocommerce"]
    )
    parser.add_argument("--latency-ms", type=int, default=20, help="the sandbox's answer delay")
    parser.add_argument("--max-seconds", type=int, default=300)
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds

    with tempfile.TemporaryDirectory(prefix="xsale-bench-") as tmp:
        workdir = Path(tmp)
        web_port, sandbox_port = free_port(), free_port()
        base, sandbox = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sandbox_port}"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-only",
            "DEBUG": "0",
            "MEDIA_ROOT": str(workdir / "media"),
            "SANDBOX_URL": sandbox,
            "SITE_URL": base,
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        setup = [PYTHON, "manage.py"]
        subprocess.run([*setup, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*setup, "seed_demo", "--offers", str(args.offers), "--allow-production"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        procs = Processes(workdir, env)
        try:
            sandbox_proc = procs.start(
                "sandbox", ["-m", "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)]
            )
            wait_until_up(f"{sandbox}/_sandbox/health", sandbox_proc)
            requests.post(
                f"{sandbox}/_sandbox/{args.channel}/demo/config",
                json={"latency_ms": args.latency_ms},
                timeout=10,
            ).raise_for_status()
            web = procs.start(
                "web",
                ["manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload", "--insecure"],
            )
            wait_until_up(f"{base}/login/", web)
            procs.start("resync", ["manage.py", "qcluster"], Q_CLUSTER_NAME="resync")

            session = requests.Session()
            log_in(session, base)
            listing = session.get(f"{base}/integrations/", timeout=10).text
            pk = next(
                m.group(1)
                for m in re.finditer(r'href="/integrations/(\d+)/"[^>]*>([^<]+)<', listing)
                if args.channel in m.group(2).lower()
            )
            page = f"{base}/integrations/{pk}/"
            measure(session, page, 10, deadline)  # warm up
            idle = measure(session, page, args.requests, deadline)

            session.post(
                f"{base}/integrations/{pk}/resync/",
                data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
                headers={"Referer": page},
                timeout=10,
            ).raise_for_status()
            progress_url = f"{base}/integrations/{pk}/resync/progress.json"

            def progress():
                return session.get(progress_url, timeout=10).json()

            while progress()["status"] == "queued" and time.monotonic() < deadline:
                time.sleep(0.1)
            busy = measure(
                session, page, args.requests, deadline, keep_going=lambda: progress()["active"]
            )
            state = progress()
            if state["active"]:
                session.post(
                    f"{base}/integrations/{pk}/resync/cancel/",
                    data={"csrfmiddlewaretoken": session.cookies["csrftoken"], "run": state["id"]},
                    headers={"Referer": page},
                    timeout=10,
                )
        finally:
            procs.stop()

    result = {
        "page": "/integrations/<pk>/ (V2 edit page with the progress panel)",
        "channel": args.channel,
        "offers": args.offers,
        "idle": percentiles(idle),
        "during_resync": percentiles(busy) if busy else None,
        "run_at_end": {k: state[k] for k in ("status", "processed", "total", "rate_per_second")},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

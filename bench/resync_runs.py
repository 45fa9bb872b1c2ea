"""What the benches that drive resync runs share (many_runs.py, prices_by_commands.py,
channel_budgets.py): a fresh PostgreSQL database, Allegro's limits (and time shrunk), sandbox
integrations and their offers, a watcher that polls the runs while they go, and the lines that
print what it saw. Django is read only inside the functions, once the bench has called
`harness.setup_django()`.
"""

import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

import harness as h

# Allegro's published limits (integrations/channels.py), per "minute" and "hour".
APP = 9_000
EDITS = (2_490, 74_700)
PRICE_COMMANDS = (9_000, 150_000)
QUANTITY_COMMANDS = (9_000, 250_000)
COMMAND_READS = 270_000

# Allegro's secrets as the sandbox accepts them (with a client id of the bench's choosing).
ALLEGRO_SECRETS = {
    "client_secret": "sandbox-secret",
    "access_token": "sandbox-access",
    "refresh_token": "sandbox-refresh",
}
# One seller's credentials on the sandbox's usual app.
SANDBOX_APP = {"client_id": "sandbox-client", **ALLEGRO_SECRETS}


def fresh_postgres(name):
    """A new local PostgreSQL database `name` (dropped and created), the one the bench uses."""
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *pg, "--if-exists", "--force", name], check=True)
    subprocess.run(["createdb", *pg, name], check=True)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"


def scaled(count, seconds, scale):
    """A limit of `count` per `seconds` with time shrunk `scale` times: [count, seconds]."""
    return [round(count / scale), seconds // scale]


def make_integration(url, channel, account, *, credentials=None):
    """An integration of `channel` on the sandbox at `url`, account `account` (its demo
    credentials, updated with `credentials`)."""
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls

    return Integration.objects.create(
        name=f"{channel}-{account}",
        channel=channel,
        credentials={**DEMO_CREDENTIALS[channel], **(credentials or {})},
        **sandbox_integration_urls(channel, account, url),
    )


def seed(integration, count, *, prefix, photos, start=1):
    from tests.catalogue import make_offers

    make_offers(integration, count, prefix=prefix, start=start, photos=photos)


def runs_by_pk(ids):
    from integrations.models import ResyncRun

    return {r.pk: r for r in ResyncRun.objects.filter(pk__in=ids).select_related("integration")}


class Watcher:
    """Polls the runs every 0.25 s until they end, keeping for each: the times it paused by
    reason without its time (`entered`), each distinct reason read while paused with when
    (`pauses`), the seconds it spent paused, and when its page first showed an offer
    processed (`first_shown`)."""

    POLL_SECONDS = 0.25

    def __init__(self, run_ids):
        self.run_ids = list(run_ids)
        self.started = time.time()
        self.entered = {pk: Counter() for pk in self.run_ids}
        self.pauses = {pk: [] for pk in self.run_ids}  # [(seconds since start, reason)]
        self.paused_seconds = dict.fromkeys(self.run_ids, 0.0)
        self.first_shown: dict[int, float] = {}
        self._last = dict.fromkeys(self.run_ids)

    def poll(self) -> bool:
        """One look at the runs; whether any is still active."""
        from django.db import connection

        from integrations.models import ResyncRun

        # What a seller's page shows as processed: with the chunk under way's answered offers
        # where the run records them (ResyncRun.in_flight), else the recorded ones alone.
        shown = ["processed"]
        if any(f.name == "in_flight" for f in ResyncRun._meta.get_fields()):
            shown.append("in_flight")
        rows = ResyncRun.objects.filter(pk__in=self.run_ids).values_list(
            "pk", "status", "pause_reason", *shown
        )
        active = False
        for pk, status, reason, *counts in rows:
            now = time.time()
            if sum(counts) and pk not in self.first_shown:
                self.first_shown[pk] = now
            if status == ResyncRun.Status.PAUSED:
                self.paused_seconds[pk] += self.POLL_SECONDS
                if self._last[pk] != (status, reason):
                    self.entered[pk][reason.split(" — ")[0]] += 1
                seen = self.pauses[pk]
                if not seen or seen[-1][1] != reason:
                    seen.append((now - self.started, reason))
            self._last[pk] = (status, reason)
            active |= status not in (
                ResyncRun.Status.COMPLETED,
                ResyncRun.Status.FAILED,
                ResyncRun.Status.CANCELLED,
            )
        connection.close()
        return active

    def wait(self, timeout, until=None) -> bool:
        """Poll until every run ended (True), `until()` holds (True) or `timeout` (False)."""
        end = time.time() + timeout
        while time.time() < end:
            if not self.poll() or (until and until()):
                return True
            time.sleep(self.POLL_SECONDS)
        return False


@dataclass
class Driven:
    """Runs a bench drove to their end (`drive_runs`)."""

    runs: dict  # run id → the run as it ended
    watcher: Watcher
    sampler: h.GroupSampler  # the resync cluster's CPU and memory while the runs went
    started_at: float  # when the first run was started (unix time)
    pressed: float  # the seconds starting them took
    ended: bool  # every run ended within the timeout


def drive_runs(start, *, workers, timeout, what="the run"):
    """A resync cluster of `workers` workers beside the sweeper; `start()` starts the runs and
    returns them; they are watched to their end (or `timeout`), then the cluster stops."""
    worker = h.start_resync_worker(workers=workers, name="resync")
    time.sleep(4)  # let the cluster start
    print(f"- load average before {what}: {load_average()}")
    try:
        with h.Sweeper(), h.GroupSampler(worker.pid, every=0.2) as sampler:
            started_at = time.time()
            started = start()
            pressed = time.time() - started_at
            watcher = Watcher([run.pk for run in started])
            ended = watcher.wait(timeout)
        print(f"- load average at the end of {what}: {load_average()}")
    finally:
        worker.stop()
    return Driven(runs_by_pk(watcher.run_ids), watcher, sampler, started_at, pressed, ended)


def print_pause_counts(watcher, names):
    """Each run's pauses: how many times, by reason."""
    paused = {pk: c for pk, c in watcher.entered.items() if c}
    if not paused:
        print("- no run paused")
        return
    for pk, kinds in paused.items():
        for reason, n in kinds.items():
            print(f"- {names[pk]} paused {n} × “{reason}”")


def print_pause_timeline(watcher, names):
    """Each run's pauses: how many, how long in all, and each reason's first occurrence."""
    for pk, seen in watcher.pauses.items():
        if not seen:
            print(f"- {names[pk]}: never paused")
            continue
        kinds = {}  # reason without its time → [count, first (seconds, full reason)]
        for t, reason in seen:
            key = reason.split(" — ")[0]
            kinds.setdefault(key, [0, (t, reason)])[0] += 1
        print(
            f"- {names[pk]}: paused {len(seen)} times, ≈ {watcher.paused_seconds[pk]:.0f} s in all"
        )
        for key, (n, (t, reason)) in kinds.items():
            print(f"    {n} × {key}; first at +{t:.0f} s: “{reason}”")


def requests_per(histogram, start, end, step):
    """A sandbox's requests per second ({unix second: count}) summed per `step` seconds, from
    `start` to `end` (unix seconds)."""
    return [
        sum(histogram.get(s, 0) for s in range(s0, s0 + step))
        for s0 in range(int(start), int(end) + 1, step)
    ]


def print_cpu(sampler, label):
    """A harness.GroupSampler's CPU and peak RSS, in all and per process."""
    used = sampler.used()
    seconds = sampler.ended - sampler.started
    total = sum(used.values())
    print(
        f"- CPU of {label} (user + sys, /proc/<pid>/stat): {total:.1f} s in {seconds:.0f} s = "
        f"**{100 * total / seconds:.0f}% of one core** (the machine has {os.cpu_count()})"
    )
    for pid in sorted(used, key=used.get, reverse=True):
        peak, usual = sampler.threads_seen(pid)
        print(
            f"    pid {pid}: {used[pid]:.1f} s ({100 * used[pid] / seconds:.0f}%), peak RSS "
            f"{sampler.rss_kib.get(pid, 0) / 1024:.1f} MiB, threads {peak} at most, {usual} "
            f"most often — {sampler.names.get(pid, '')}"
        )


def load_average():
    """The load average over 1, 5 and 15 minutes: "1.2/0.9/0.7"."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())

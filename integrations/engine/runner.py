"""The resync cluster's task: which step a run is made of, by its kind, and how many runs one
worker drives at once.

A new kind of work (say, submitting a batch to a channel and reading its report later) is a new
Step class and one line in STEPS — never a copy of the skeleton.

A run spends most of its time waiting on the channel's budgets and the network, so one worker
process drives up to RESYNC_RUNS_PER_WORKER runs side by side, each in a thread of its own
under its own lease (issue 17): the task of one run also takes the runs that have waited
longest for a worker. The budgets, not the number of workers, then set the pace, and the
budget store serves waiting spenders first come, first served across runs, processes and
machines. A run taken this way keeps its queued task; that task finds the lease taken, or the
cursor moved, and does nothing.

When a worker process dies (killed, out of memory, past django-q2's task timeout), every run it
drove loses its lease at once, and nothing tells which run's work killed it. So each of them is
suspect (ResyncRun.lost_tasks): the sweeper gives it a task of its own, which drives it alone —
no run is taken beside a suspect one, and a suspect one is never taken beside another. The
runs that only shared the worker go on alone until a task moves them on; the one whose work
kills its worker dies again alone and fails (skeleton.run_task), without taking others with it.
"""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection

from integrations.engine import skeleton
from integrations.engine.drift_check import DriftCheck
from integrations.engine.resync_chunk import ResyncChunks
from integrations.models import ResyncRun

logger = logging.getLogger(__name__)

# A thread takes no new run with less of the task's time box left than this.
MIN_TIME_BOX = 1.0
# How often one task looks again for runs waiting for a worker.
MAX_REFILLS = 4

STEPS: dict[str, type[skeleton.Step]] = {
    ResyncRun.Kind.RESYNC: ResyncChunks,
    ResyncRun.Kind.CHECK: DriftCheck,
}


def step_for(run: ResyncRun, token: str) -> skeleton.Step:
    return STEPS[run.kind](run, token)


def process_chunk(run_id: int, cursor: int) -> None:
    """One task (integrations/tasks.py enqueues it by name): this run and, beside it, runs
    waiting for a worker, up to RESYNC_RUNS_PER_WORKER at once, until the task's time box
    (RESYNC_TASK_SECONDS) is used: when a run is taken elsewhere, or handed on, with time left,
    the next one waiting is taken. Each run driven has a thread of the runner pool, which
    makes no more threads than runs driven at once."""
    slots = settings.RESYNC_RUNS_PER_WORKER
    if slots <= 1 or ResyncRun.objects.suspect(run_id):
        skeleton.run_task(run_id, cursor, step_for)
        return
    waiting = Waiting(
        first=(run_id, cursor), deadline=time.monotonic() + settings.RESYNC_TASK_SECONDS
    )
    driving: set = set()
    with ThreadPoolExecutor(slots, thread_name_prefix="resync-run") as pool:
        while True:
            while len(driving) < slots:
                left = waiting.deadline - time.monotonic()
                run = waiting.next(taking_more=left > MIN_TIME_BOX)
                if run is None:
                    break
                driving.add(pool.submit(_drive_run, run, max(left, 0.0)))
            if not driving:
                return
            done, driving = wait(driving, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()


class Waiting:
    """The runs one task's threads take, the longest waiting first, each at most once."""

    def __init__(self, *, first: tuple[int, int], deadline: float):
        self.deadline = deadline
        self._lock = threading.Lock()
        self._queue = [first]
        self._seen = {first[0]}
        self._refills = 0
        self._first_taken = False

    def next(self, *, taking_more: bool) -> tuple[int, int] | None:
        """The next run to take; the task's own run is always taken, others only while
        `taking_more` (time is left in the task's box)."""
        with self._lock:
            if not self._first_taken:
                self._first_taken = True
                return self._queue.pop(0)
            if not taking_more:
                return None
            if not self._queue and self._refills < MAX_REFILLS:
                self._refills += 1
                fresh = ResyncRun.objects.waiting_for_worker(
                    exclude=0, limit=settings.RESYNC_RUNS_PER_WORKER * 2
                )
                self._queue = [run for run in fresh if run[0] not in self._seen]
            if not self._queue:
                return None
            run = self._queue.pop(0)
            self._seen.add(run[0])
            return run


def _drive_run(run: tuple[int, int], seconds: float) -> None:
    try:
        skeleton.run_task(*run, step_for, seconds=seconds)
    except Exception:  # the skeleton records what a run's work raises; a last resort
        logger.exception("resync %s: its task raised", run[0])
    finally:
        connection.close()  # this thread's own connection

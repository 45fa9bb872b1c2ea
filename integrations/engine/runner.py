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
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

from integrations.engine import skeleton
from integrations.engine.drift_check import DriftCheck
from integrations.engine.resync_chunk import ResyncChunks
from integrations.models import ResyncRun

logger = logging.getLogger(__name__)

STEPS: dict[str, type[skeleton.Step]] = {
    ResyncRun.Kind.RESYNC: ResyncChunks,
    ResyncRun.Kind.CHECK: DriftCheck,
}


def step_for(run: ResyncRun, token: str) -> skeleton.Step:
    return STEPS[run.kind](run, token)


def process_chunk(run_id: int, cursor: int) -> None:
    """One task (integrations/tasks.py enqueues it by name): this run and, beside it, runs
    waiting for a worker, up to RESYNC_RUNS_PER_WORKER in all, for one time box each."""
    runs = [(run_id, cursor)]
    room = settings.RESYNC_RUNS_PER_WORKER - 1
    if room > 0:
        runs += ResyncRun.objects.waiting_for_worker(exclude=run_id, limit=room)
    if len(runs) == 1:
        skeleton.run_task(run_id, cursor, step_for)
        return
    with ThreadPoolExecutor(len(runs), thread_name_prefix="resync-run") as pool:
        for future in [pool.submit(_run_in_thread, *run) for run in runs]:
            future.result()


def _run_in_thread(run_id: int, cursor: int) -> None:
    try:
        skeleton.run_task(run_id, cursor, step_for)
    except Exception:  # the skeleton records what a run's work raises; this is a last resort
        logger.exception("resync %s: its task raised", run_id)
    finally:
        connection.close()  # this thread's own connection

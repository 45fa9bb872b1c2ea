"""The resync cluster's task: which step a run is made of, by its kind, driven by the skeleton.

A new kind of work (say, submitting a batch to a channel and reading its report later) is a new
Step class and one line in STEPS — never a copy of the skeleton.
"""

from integrations.engine import skeleton
from integrations.engine.drift_check import DriftCheck
from integrations.engine.resync_chunk import ResyncChunks
from integrations.models import ResyncRun

STEPS: dict[str, type[skeleton.Step]] = {
    ResyncRun.Kind.RESYNC: ResyncChunks,
    ResyncRun.Kind.CHECK: DriftCheck,
}


def step_for(run: ResyncRun, token: str) -> skeleton.Step:
    return STEPS[run.kind](run, token)


def process_chunk(run_id: int, cursor: int) -> None:
    """One task of the run (integrations/tasks.py enqueues it by name)."""
    skeleton.run_task(run_id, cursor, step_for)

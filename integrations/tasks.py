"""django-q2 entry points: thin wrappers around the engine (integrations/engine/)."""

from integrations.engine import runner, skeleton

STALE_RUN_SCHEDULE = "resync: re-enqueue stale runs"


def process_resync_chunk(run_id: int, cursor: int) -> None:
    """One resync task: not only the chunk of `run_id` after `cursor` — beside it, the task
    drives other runs waiting for a worker, up to RESYNC_RUNS_PER_WORKER at once, resyncs and
    drift checks alike, until its time box ends (engine/runner.py, `process_chunk`). The name
    stays: the broker's queued tasks and django-q2's schedules name it."""
    runner.process_chunk(run_id, cursor)


def sweep_stale_resyncs() -> int:
    return skeleton.requeue_stale_runs()


def ensure_stale_run_schedule() -> None:
    """Every minute, on the resync cluster, re-enqueue runs whose heartbeat went stale.

    `manage.py run_cluster --cluster resync` sweeps every RESYNC_SWEEP_SECONDS itself; this
    schedule stays as the fallback for a deployment that runs a bare `qcluster` (a duplicate
    enqueue is harmless).
    """
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=STALE_RUN_SCHEDULE,
        defaults={
            "func": "integrations.tasks.sweep_stale_resyncs",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": skeleton.RESYNC_CLUSTER,
        },
    )

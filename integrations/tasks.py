"""django-q2 entry points: thin wrappers around the engine (integrations/engine/)."""

from integrations.engine import runner, skeleton
from integrations.models import Integration, ResyncRun
from integrations.services import reconcile

STALE_RUN_SCHEDULE = "resync: re-enqueue stale runs"


def process_resync_chunk(run_id: int, cursor: int) -> None:
    """One resync task: not only the chunk of `run_id` after `cursor` — beside it, the task
    drives other runs waiting for a worker, up to RESYNC_RUNS_PER_WORKER at once, resyncs and
    drift checks alike, until its time box ends (engine/runner.py, `process_chunk`). The name
    stays: the broker's queued tasks and django-q2's schedules name it."""
    runner.process_chunk(run_id, cursor)


def sweep_stale_resyncs() -> int:
    return skeleton.requeue_stale_runs()


# What runs every minute on the resync cluster, by django-q2's scheduler: the sweeper's fallback
# (`manage.py run_cluster --cluster resync` sweeps every RESYNC_SWEEP_SECONDS itself; this stays
# for a deployment that runs a bare `qcluster`, and a duplicate enqueue is harmless), and the
# decision of every reconciliation whose drift check ended (services/reconcile.py).
EVERY_MINUTE = {
    STALE_RUN_SCHEDULE: "integrations.tasks.sweep_stale_resyncs",
    reconcile.DECIDE_SCHEDULE: "integrations.tasks.decide_reconciliations",
}


def ensure_every_minute_schedules() -> None:
    from django_q.models import Schedule

    for name, func in EVERY_MINUTE.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
                "cluster": skeleton.RESYNC_CLUSTER,
            },
        )


def reconcile_integration(integration_id: int) -> None:
    """The integration's reconciliation schedule (services/reconcile.py)."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is not None:  # deleted since the schedule fired
        reconcile.reconcile_start(integration, source=ResyncRun.Source.SCHEDULE)


def decide_reconciliations() -> int:
    return reconcile.decide_ended()

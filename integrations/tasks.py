"""django-q2 entry points: thin wrappers around the engine (integrations/engine/)."""

from integrations.engine import runner, skeleton
from integrations.models import Integration, ResyncRun
from integrations.services import reconcile

STALE_RUN_SCHEDULE = "resync: re-enqueue stale runs"


def process_resync_chunk(run_id: int, cursor: int) -> None:
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


def reconcile_integration(integration_id: int) -> None:
    """The integration's reconciliation schedule (services/reconcile.py)."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is not None:  # deleted since the schedule fired
        reconcile.reconcile_start(integration, source=ResyncRun.Source.SCHEDULE)


def decide_reconciliations() -> int:
    return reconcile.decide_ended()

"""django-q2 entry points: thin wrappers around integrations.resync."""

from integrations import resync


def process_resync_chunk(run_id: int, cursor: int) -> None:
    resync.process_chunk(run_id, cursor)


def sweep_stale_resyncs() -> int:
    return resync.requeue_stale_runs()

"""A run's figures as stored — counts, percent, the average rate, times, why it waits, its error
worded for a seller — the dict the pages' JSON (display.progress_data adds the live pace to it)
and the command line start from."""

from integrations.models import ResyncRun
from integrations.wording import worded


def run_figures(run: ResyncRun) -> dict:
    """The run's progress as the pages' JSON and the command line show it."""
    elapsed = run.elapsed_seconds or 0
    rate = run.processed / elapsed if elapsed > 0 else 0.0
    remaining = max(run.total - run.processed, 0)
    eta = round(remaining / rate) if rate > 0 and run.is_active else None
    if run.total:
        percent = min(round(100 * run.processed / run.total, 1), 100.0)
    else:
        percent = 0 if run.is_active else 100
    user = run.requested_by
    return {
        "id": run.pk,
        "integration": run.integration_id,
        "status": run.status,
        "status_display": run.get_status_display(),
        "outcome": run.outcome,
        "active": run.is_active,
        "total": run.total,
        "processed": run.processed,
        "sent": run.sent,
        "failed": run.failed,
        "awaiting": run.awaiting,
        "photos_sent": run.photos_sent,
        "photo_files_sent": run.photo_files_sent,
        "percent": percent,
        "rate_per_second": round(rate, 1),
        "eta_seconds": eta,
        "source": run.source,
        "source_display": run.get_source_display(),
        "requested_by": (user.get_full_name() or user.get_username()) if user else "",
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(elapsed) if run.started_at else None,
        "paused_until": run.paused_until.isoformat() if run.paused_until else None,
        "waiting_reason": run.pause_reason if run.is_active else "",
        "error": worded(run.error),
        "is_retry": bool(run.retry_of_id),
        "kind": run.kind,
        # A check's findings so far (engine/drift_check.py keeps them in its report).
        "differs": int((run.report or {}).get("differs") or 0),
        "missing": int((run.report or {}).get("missing") or 0),
    }

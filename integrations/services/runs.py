"""The run services the pages, the admin and the command line call: start, cancel, resume,
retry failed (docs/architecture.md, the engine). Every entry point goes through these functions;
the engine
(integrations/engine/) does the work. Drift checks: services/drift.py."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.engine import skeleton
from integrations.engine.selection import run_links
from integrations.models import Integration, ResyncRun

logger = logging.getLogger(__name__)


class ResyncError(Exception):
    """A resync cannot be started or changed; the message is for the seller."""


class ResyncAlreadyRunning(ResyncError):
    def __init__(self, run: ResyncRun):
        self.run = run
        super().__init__(
            _("A resync of %(integration)s is already running (%(processed)s of %(total)s offers).")
            % {"integration": run.integration.name, "processed": run.processed, "total": run.total}
        )


def start_resync(
    integration: Integration,
    *,
    user=None,
    source: str,
    retry_of: ResyncRun | None = None,
    retry_filter: dict | None = None,
    data_types: str = ResyncRun.DataTypes.ALL,
    photos_too: bool = False,
    differing_of: ResyncRun | None = None,
    kind: str = ResyncRun.Kind.RESYNC,
) -> ResyncRun:
    """Create a run and enqueue its first chunk on commit.

    The partial unique constraint makes a second start (a double click, two people, two pages)
    fail here; the caller gets ResyncAlreadyRunning with the run that is in progress.
    """
    if source not in ResyncRun.Source.values:
        raise ValueError(f"unknown source {source!r}")
    if data_types not in ResyncRun.DataTypes.values:
        raise ValueError(f"unknown data types {data_types!r}")
    if not integration.active:
        raise ResyncError(
            _("The integration %(name)s is inactive; activate it before a resync.")
            % {"name": integration.name}
        )
    try:
        with transaction.atomic():
            run = ResyncRun(
                integration=integration,
                requested_by=user if user is not None and user.is_authenticated else None,
                source=source,
                retry_of=retry_of,
                retry_filter=retry_filter or {},
                data_types=data_types,
                photos_too=photos_too,
                differing_of=differing_of,
                kind=kind,
            )
            run.last_offer_id = run_links(run).aggregate(last=Max("offer_id"))["last"] or 0
            run.total = run_links(run).count()
            run.save()
            transaction.on_commit(lambda: skeleton.enqueue_chunk(run.pk, 0))
    except IntegrityError:
        raise _already_running(integration) from None
    logger.info(
        "resync %s of integration %s started from %s (%s offers)",
        run.pk,
        integration.pk,
        source,
        run.total,
    )
    return run


def _already_running(integration: Integration) -> ResyncError:
    running = (
        ResyncRun.objects.active().filter(integration=integration).select_related("integration")
    ).first()
    if running is None:  # it ended in between: the start can be tried again
        return ResyncError(_("Another resync just ended; try again."))
    return ResyncAlreadyRunning(running)


def cancel_resync(run: ResyncRun, *, user=None) -> bool:
    """Ask a run to stop; the next chunk sees the flag. Returns False when it had ended."""
    asked = ResyncRun.objects.filter(
        pk=run.pk,
        status__in=[ResyncRun.Status.QUEUED, ResyncRun.Status.RUNNING, ResyncRun.Status.PAUSED],
    ).update(status=ResyncRun.Status.CANCELLING)
    if asked:
        logger.info("resync %s: cancel asked by user %s", run.pk, getattr(user, "pk", None))
        # Nobody works on a paused run (or a dead worker's): it ends now. A working task sees
        # the flag before its next chunk.
        ResyncRun.objects.end_idle_cancels(pk=run.pk)
        run.refresh_from_db()
    return bool(asked)


def resume_resync(run: ResyncRun, *, user=None, source: str) -> ResyncRun:
    """Continue a cancelled or failed run from where it stopped (its cursor)."""
    if run.status not in (ResyncRun.Status.CANCELLED, ResyncRun.Status.FAILED):
        raise ResyncError(_("Only a cancelled or failed resync can be resumed."))
    if not run.integration.active:
        raise ResyncError(
            _("The integration %(name)s is inactive; activate it before a resync.")
            % {"name": run.integration.name}
        )
    try:
        with transaction.atomic():
            resumed = ResyncRun.objects.filter(
                pk=run.pk, status__in=[ResyncRun.Status.CANCELLED, ResyncRun.Status.FAILED]
            ).update(
                status=ResyncRun.Status.QUEUED,
                finished_at=None,
                error="",
                paused_until=None,
                pause_reason="",
                chunk_errors=0,
                silent_chunks=0,
                heartbeat_at=timezone.now(),
                lease_token="",
                lease_expires_at=None,
                # Whoever resumes it hears how it ends.
                requested_by=F("requested_by")
                if user is None or not user.is_authenticated
                else Value(user.pk),
            )
    except IntegrityError:
        raise _already_running(run.integration) from None
    if not resumed:
        raise ResyncError(_("Only a cancelled or failed resync can be resumed."))
    run.refresh_from_db()
    skeleton.enqueue_chunk(run.pk, run.cursor)
    logger.info("resync %s resumed from %s by user %s", run.pk, source, getattr(user, "pk", None))
    return run


def planned_total(
    integration: Integration,
    *,
    retry_of: ResyncRun | None = None,
    retry_filter: dict | None = None,
    differing_of: ResyncRun | None = None,
) -> int:
    """How many offers a run started now with these arguments would visit (its `total`): what a
    confirmation page shows before anything starts."""
    planned = ResyncRun(
        integration=integration,
        retry_of=retry_of,
        retry_filter=retry_filter or {},
        differing_of=differing_of,
    )
    return run_links(planned).count()


def retry_group(group: dict | None) -> dict | None:
    """One group of failures — {"code", "reason"} as the pages group them, or an exact
    {"code", "message"} (older links) — or None for all of them."""
    if not group:
        return None
    key = "reason" if "reason" in group else "message"
    return {"code": group.get("code", ""), key: group.get(key, "")}


def check_retry(run: ResyncRun, group: dict | None = None) -> None:
    """Raise ResyncError when `run`'s failures (or the group's) cannot be retried now."""
    if run.is_active:
        raise ResyncError(_("This resync is still running; retry its failures when it ends."))
    failures = run.failures.all()
    if group:
        failures = failures.in_group(retry_group(group))
    if not failures.exists():
        raise ResyncError(_("This resync has no failed offers to retry."))


def retry_failed(run: ResyncRun, *, user=None, source: str, group: dict | None = None) -> ResyncRun:
    """Start a run limited to the offers that failed in `run` (or to one group of them:
    {"code": …, "reason": …} as the pages group them, or an exact {"code": …, "message": …})."""
    group = retry_group(group)
    check_retry(run, group)
    return start_resync(run.integration, user=user, source=source, retry_of=run, retry_filter=group)

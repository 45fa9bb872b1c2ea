"""The offer resync service: start, cancel, retry failed, and process one chunk.

Every entry point — the V1 and V2 pages, the admin, the command line — calls these functions;
tasks.py only wraps them for django-q2. See DESIGN.md §5.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.channels import estimated_duration_seconds
from integrations.models import Integration, ResyncFailure, ResyncRun
from offers.models import OfferChannel

logger = logging.getLogger(__name__)

RESYNC_CLUSTER = "resync"


class ResyncError(Exception):
    """A resync cannot be started or changed; the message is for the seller."""


class ResyncAlreadyRunning(ResyncError):
    def __init__(self, run: ResyncRun):
        self.run = run
        super().__init__(
            _("A resync of %(integration)s is already running (%(processed)s of %(total)s offers).")
            % {"integration": run.integration.name, "processed": run.processed, "total": run.total}
        )


def _lease_seconds() -> int:
    return getattr(settings, "RESYNC_LEASE_SECONDS", 150)


def active_links(integration: Integration):
    """The links a resync sends: the integration's active offers."""
    return OfferChannel.objects.filter(integration=integration, active=True)


def _run_links(run: ResyncRun):
    links = active_links(run.integration)
    if run.retry_of_id:
        failed = ResyncFailure.objects.filter(run_id=run.retry_of_id).values("offer_id")
        links = links.filter(offer_id__in=failed)
    return links


def resync_offer_count(integration: Integration) -> int:
    return active_links(integration).count()


def resync_estimate_seconds(integration: Integration, offers: int | None = None) -> int:
    if offers is None:
        offers = resync_offer_count(integration)
    return estimated_duration_seconds(integration.channel, offers, integration.requests_per_minute)


def enqueue_chunk(run_id: int, cursor: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "integrations.tasks.process_resync_chunk",
        run_id,
        cursor,
        cluster=RESYNC_CLUSTER,
        task_name=f"resync-{run_id}-{cursor}",
        save=False,
    )


def start_resync(
    integration: Integration, *, user=None, source: str, retry_of: ResyncRun | None = None
) -> ResyncRun:
    """Create a run and enqueue its first chunk on commit.

    The partial unique constraint makes a second start (a double click, two people, two pages)
    fail here; the caller gets ResyncAlreadyRunning with the run that is in progress.
    """
    if source not in ResyncRun.Source.values:
        raise ValueError(f"unknown source {source!r}")
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
            )
            run.total = _run_links(run).count()
            run.save()
            transaction.on_commit(lambda: enqueue_chunk(run.pk, 0))
    except IntegrityError:
        running = (
            ResyncRun.objects.filter(integration=integration, status__in=ResyncRun.ACTIVE_STATUSES)
            .select_related("integration")
            .first()
        )
        if running is None:  # it ended in between: the start can be tried again
            raise ResyncError(_("Another resync just ended; try again.")) from None
        raise ResyncAlreadyRunning(running) from None
    logger.info(
        "resync %s of integration %s started from %s (%s offers)",
        run.pk,
        integration.pk,
        source,
        run.total,
    )
    return run


def cancel_resync(run: ResyncRun, *, user=None) -> bool:
    """Ask a run to stop; the next chunk sees the flag. Returns False when it had ended."""
    asked = ResyncRun.objects.filter(
        pk=run.pk, status__in=[ResyncRun.Status.QUEUED, ResyncRun.Status.RUNNING]
    ).update(status=ResyncRun.Status.CANCELLING)
    if asked:
        logger.info("resync %s: cancel asked by user %s", run.pk, getattr(user, "pk", None))
        run.refresh_from_db()
        # A run nobody works on (its worker died) is finished by the stale-run sweeper; nudge
        # it now so a cancel shows at once when the queue is idle.
        enqueue_chunk(run.pk, run.cursor)
    return bool(asked)


def retry_failed(run: ResyncRun, *, user=None, source: str) -> ResyncRun:
    """Start a run limited to the offers that failed in `run`."""
    if run.is_active:
        raise ResyncError(_("This resync is still running; retry its failures when it ends."))
    if not run.failures.exists():
        raise ResyncError(_("This resync has no failed offers to retry."))
    return start_resync(run.integration, user=user, source=source, retry_of=run)


@dataclass
class Progress:
    run: ResyncRun

    def as_dict(self) -> dict:
        run = self.run
        now = timezone.now()
        elapsed = (
            ((run.finished_at or now) - run.started_at).total_seconds() if run.started_at else 0
        )
        rate = run.processed / elapsed if elapsed > 0 else 0.0
        remaining = max(run.total - run.processed, 0)
        eta = round(remaining / rate) if rate > 0 and run.is_active else None
        user = run.requested_by
        return {
            "id": run.pk,
            "integration": run.integration_id,
            "status": run.status,
            "status_display": run.get_status_display(),
            "active": run.is_active,
            "total": run.total,
            "processed": run.processed,
            "sent": run.sent,
            "failed": run.failed,
            "photos_sent": run.photos_sent,
            "percent": 100
            if run.total == 0 and not run.is_active
            else round(100 * run.processed / run.total, 1)
            if run.total
            else 0,
            "rate_per_second": round(rate, 1),
            "eta_seconds": eta,
            "source": run.source,
            "source_display": run.get_source_display(),
            "requested_by": (user.get_full_name() or user.get_username()) if user else "",
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "error": run.error,
            "is_retry": bool(run.retry_of_id),
        }


def run_progress(run: ResyncRun) -> dict:
    return Progress(run).as_dict()

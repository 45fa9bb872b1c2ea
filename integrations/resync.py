"""The offer resync service: start, cancel, retry failed, and process one chunk.

Every entry point — the V1 and V2 pages, the admin, the command line — calls these functions;
tasks.py only wraps them for django-q2. See DESIGN.md §5.
"""

import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.channels import estimated_duration_seconds, sends_photo_binaries_always
from integrations.models import Integration, ResyncFailure, ResyncRun
from offers.models import OfferChannel, OfferParameter, OfferPhoto, SiteJournal

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


# --- the engine -------------------------------------------------------------------------------


@dataclass
class Chunk:
    links: list  # OfferChannel with .offer, photos and parameters prefetched
    # offer_id -> the photo set hash the site journal holds (what the channel has)
    journal_photos: dict


def _load_chunk(run: ResyncRun, after: int, size: int) -> Chunk:
    """The next chunk in offer pk order after the cursor: keyset, never OFFSET.

    Four queries whatever the chunk size: links with offers, photos, parameters, journal rows.
    """
    links = list(
        _run_links(run)
        .filter(offer_id__gt=after)
        .select_related("offer")
        .order_by("offer_id")[:size]
    )
    offers = [link.offer for link in links]
    offer_ids = [o.pk for o in offers]
    _attach_related(offers, "photos", OfferPhoto.objects.filter(offer_id__in=offer_ids))
    _attach_related(offers, "parameters", OfferParameter.objects.filter(offer_id__in=offer_ids))
    journal_photos = dict(
        SiteJournal.objects.filter(
            integration_id=run.integration_id, offer_id__in=offer_ids
        ).values_list("offer_id", "photos_hash")
    )
    return Chunk(links=links, journal_photos=journal_photos)


def _attach_related(offers, name: str, queryset) -> None:
    """Fill `offer.<name>.all()` from one query, as prefetch_related does.

    prefetch_related_objects clones a queryset per offer; at hundreds of offers per chunk that
    cloning cost more than the query itself, so the rows are grouped here and handed to each
    offer as an already evaluated queryset.
    """
    grouped = defaultdict(list)
    for row in queryset.order_by("offer_id", "position", "pk"):
        grouped[row.offer_id].append(row)
    model = queryset.model
    for offer in offers:
        evaluated = QuerySet(model=model)
        evaluated._result_cache = grouped.get(offer.pk, [])
        evaluated._prefetch_done = True
        offer._prefetched_objects_cache = {
            **getattr(offer, "_prefetched_objects_cache", {}),
            name: evaluated,
        }


def _claim(run_id: int, cursor: int) -> str | None:
    """Take the run's lease for the chunk after `cursor`; None when another task has it, the
    cursor moved on (a duplicate task), or the run has ended."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        ResyncRun.objects.filter(pk=run_id, cursor=cursor, status__in=ResyncRun.ACTIVE_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=_lease_seconds()),
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), Value(now)),
            status=Case(
                When(status=ResyncRun.Status.QUEUED, then=Value(ResyncRun.Status.RUNNING)),
                default=F("status"),
            ),
        )
    )
    return token if claimed else None


def _finish(run_id: int, token: str, status: str, error: str = "") -> None:
    ResyncRun.objects.filter(pk=run_id, lease_token=token).update(
        status=status,
        error=error[:2000],
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        lease_token="",
        lease_expires_at=None,
    )


def _items_to_send(run: ResyncRun, chunk: Chunk):
    """Decide photos per offer (DESIGN.md §2 rule 2) and set aside offers that cannot be sent."""
    from integrations.shopconnect.base import OfferResult, OfferToSend

    integration = run.integration
    always_photos = sends_photo_binaries_always(integration.channel)
    needs_external_id = integration.facts.needs_external_id
    items, refused = [], []
    for link in chunk.links:
        offer = link.offer
        if needs_external_id and not link.external_id:
            refused.append(
                OfferResult(
                    offer_id=offer.pk,
                    ok=False,
                    code="missing_external_id",
                    message=_(
                        "The offer has no listing id on %(channel)s (external ID); link it to "
                        "its listing first."
                    )
                    % {"channel": integration.get_channel_display()},
                    attempts=0,
                )
            )
            continue
        if always_photos:
            send_photos = True
        else:
            send_photos = offer.photos_hash() != chunk.journal_photos.get(offer.pk, "")
        items.append(OfferToSend(offer=offer, link=link, send_photos=send_photos))
    return items, refused


JOURNAL_SENT_FIELDS = (
    "photos_hash",
    "content_hash",
    "synced_at",
    "status",
    "message",
    "price_sent",
    "currency_sent",
    "stock_sent",
)
# A failure keeps the hashes (and what was sent) of what the channel last accepted.
JOURNAL_FAILED_FIELDS = ("synced_at", "status", "message")


def _upsert_journal(rows: list[tuple], fields: tuple[str, ...]) -> None:
    """INSERT … ON CONFLICT (offer, integration) DO UPDATE for a chunk's journal rows.

    One statement for the whole chunk, written by hand: bulk_create's per-value compilation
    cost more than everything else a chunk does in the database. The SQL is the same on
    SQLite and PostgreSQL; `rows` are (offer_id, integration_id, *fields) tuples.
    """
    if not rows:
        return
    table = connection.ops.quote_name(SiteJournal._meta.db_table)
    columns = ["offer_id", "integration_id", *fields]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    updates = ", ".join(
        f"{connection.ops.quote_name(f)} = excluded.{connection.ops.quote_name(f)}" for f in fields
    )
    # A new row needs every column; those a failure leaves alone get their defaults.
    defaults = {"photos_hash": "", "content_hash": "", "currency_sent": "", "message": ""}
    missing = [f for f in defaults if f not in fields]
    if missing:
        names += ", " + ", ".join(connection.ops.quote_name(f) for f in missing)
        rows = [(*row, *(defaults[f] for f in missing)) for row in rows]
    placeholders = ", ".join(["%s"] * len(rows[0]))
    values = ", ".join([f"({placeholders})"] * len(rows))
    # Identifiers come from the model, every value is a parameter.
    sql = f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT (offer_id, integration_id) DO UPDATE SET {updates}"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def _record(run: ResyncRun, token: str, chunk: Chunk, results, *, done: bool, pacing) -> None:
    """Write the chunk's outcome in one transaction: journal rows, failures, counters, cursor.

    A constant number of queries: two journal upserts, one failure upsert, one UPDATE of the
    run. The cursor moves in the same transaction, so a chunk is either recorded whole or not at
    all, and a re-run after a crash never meets rows of its own earlier attempt.
    """
    now = timezone.now()
    by_offer = {link.offer_id: link.offer for link in chunk.links}
    integration_id = run.integration_id
    ok_rows, error_rows, failures = [], [], []
    sent = failed = photos = 0
    for result in results:
        offer = by_offer[result.offer_id]
        if result.ok:
            sent += 1
            photos += bool(result.photos_sent)
            if result.photos_sent:
                photos_hash = offer.photos_hash()
            else:
                photos_hash = chunk.journal_photos.get(offer.pk, "")
            status = SiteJournal.Status.WARNING if result.message else SiteJournal.Status.OK
            ok_rows.append(
                (offer.pk, integration_id, photos_hash, offer.content_hash(), now, status,
                 result.message, offer.price, offer.currency, offer.stock)
            )  # fmt: skip
        else:
            failed += 1
            error_rows.append(
                (offer.pk, integration_id, now, SiteJournal.Status.ERROR, result.message)
            )
            failures.append(
                ResyncFailure(
                    run_id=run.pk,
                    offer=offer,
                    http_status=result.http_status,
                    code=(result.code or "")[:100],
                    message=result.message,
                    attempts=result.attempts,
                )
            )
    lease = {"lease_token": "", "lease_expires_at": None}
    if not done:
        # The task goes on with the next chunk: keep the lease, pushed forward.
        lease = {"lease_expires_at": now + timedelta(seconds=_lease_seconds())}
    ending = {}
    if done:
        ending = {
            "status": Case(
                When(status=ResyncRun.Status.CANCELLING, then=Value(ResyncRun.Status.CANCELLED)),
                default=Value(ResyncRun.Status.COMPLETED),
            ),
            "finished_at": now,
        }
    with transaction.atomic():
        _upsert_journal(ok_rows, JOURNAL_SENT_FIELDS)
        _upsert_journal(error_rows, JOURNAL_FAILED_FIELDS)
        if failures:
            ResyncFailure.objects.bulk_create(
                failures,
                update_conflicts=True,
                unique_fields=["run", "offer"],
                update_fields=["http_status", "code", "message", "attempts"],
            )
        updated = ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(
            cursor=chunk.links[-1].offer_id,
            processed=F("processed") + len(results),
            sent=F("sent") + sent,
            failed=F("failed") + failed,
            photos_sent=F("photos_sent") + photos,
            heartbeat_at=now,
            pacing=pacing,
            **lease,
            **ending,
        )
        if not updated:
            # Our lease expired and another task took the run: its result wins, ours is undone.
            raise LeaseLost(run.pk)


class LeaseLost(Exception):
    pass


def _release(run_id: int, token: str) -> None:
    ResyncRun.objects.filter(pk=run_id, lease_token=token).update(
        lease_token="", lease_expires_at=None
    )


def _send(adapter, items):
    try:
        return list(adapter.send(items)) if items else []
    finally:
        connection.close()  # this thread's own connection, if the adapter opened one


def process_chunk(run_id: int, cursor: int) -> None:
    """Process the run's chunks from `cursor` on for a few seconds, then enqueue the rest.

    The task holds the run's lease throughout; each chunk commits on its own (journal,
    failures, counters, cursor), so a killed worker loses at most the chunk in flight. While a
    chunk is being sent, the next one is read from the database. Working through several
    chunks per task saves the broker's round trip between them; the time box keeps a task well
    inside django-q2's timeout. A duplicate task finds the cursor moved or the lease taken and
    does nothing.
    """
    token = _claim(run_id, cursor)
    if token is None:
        return
    deadline = time.monotonic() + settings.RESYNC_TASK_SECONDS
    try:
        with ThreadPoolExecutor(1, thread_name_prefix=f"resync-{run_id}") as sender:
            next_cursor = _run_chunks(run_id, token, sender, deadline)
    except BaseException:
        _release(run_id, token)  # a retry or the sweeper may take it at once
        raise
    if next_cursor is not None:
        enqueue_chunk(run_id, next_cursor)


def _run_chunks(run_id: int, token: str, sender, deadline: float) -> int | None:
    """Send chunks until the run ends (None) or the time box is used up (the cursor to go on
    from, with the lease released)."""
    from integrations.shopconnect import adapter_for
    from integrations.shopconnect.base import ChannelAuthError

    run = ResyncRun.objects.select_related("integration").get(pk=run_id)
    size = run.integration.facts.chunk_size
    adapter = adapter_for(run.integration)
    if run.pacing:
        adapter.restore_pacing(run.pacing)
    chunk = _load_chunk(run, run.cursor, size)
    while True:
        status = ResyncRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status == ResyncRun.Status.CANCELLING:
            _finish(run_id, token, ResyncRun.Status.CANCELLED)
            logger.info("resync %s cancelled", run_id)
            return None
        if not chunk.links:
            _finish(run_id, token, ResyncRun.Status.COMPLETED)
            logger.info("resync %s finished", run_id)
            return None
        items, refused = _items_to_send(run, chunk)
        sending = sender.submit(_send, adapter, items)
        done = len(chunk.links) < size
        following = None if done else _load_chunk(run, chunk.links[-1].offer_id, size)
        try:
            results = refused + sending.result()
        except ChannelAuthError as exc:
            _finish(run_id, token, ResyncRun.Status.FAILED, error=str(exc))
            logger.warning("resync %s failed: the channel refused the credentials", run_id)
            return None
        out_of_time = time.monotonic() >= deadline
        _record(
            run,
            token,
            chunk,
            results,
            done=done,
            pacing=adapter.pacing_state(),
        )
        if done:
            logger.info("resync %s finished", run_id)
            return None
        if out_of_time:
            _release(run_id, token)
            return chunk.links[-1].offer_id
        chunk = following


def requeue_stale_runs() -> int:
    """Re-enqueue runs nobody works on: a killed worker, or a broker that lost the task.

    Run by a django-q2 schedule every minute. A duplicate enqueue is harmless (see _claim).
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.RESYNC_HEARTBEAT_STALE_SECONDS)
    stale = (
        ResyncRun.objects.filter(status__in=ResyncRun.ACTIVE_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(
            Q(heartbeat_at__lt=stale_before)
            | Q(heartbeat_at__isnull=True, created_at__lt=stale_before)
        )
    )
    count = 0
    for run_id, cursor in stale.values_list("pk", "cursor"):
        logger.warning("resync %s looks stuck at offer %s: re-enqueued", run_id, cursor)
        enqueue_chunk(run_id, cursor)
        count += 1
    return count

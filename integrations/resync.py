"""The offer resync service: start, cancel, resume, retry failed, and the engine's chunks.

Every entry point — the V1 and V2 pages, the admin, the command line — calls these functions;
tasks.py only wraps them for django-q2. See docs/how-it-works.md and DESIGN.md §5.

A task (`process_chunk`) claims the run's lease (ResyncRunQuerySet), keeps it alive from a
heartbeat thread, and works through chunks for RESYNC_TASK_SECONDS: each chunk is read by
keyset after the cursor, checked against the channel's budgets, sent through the adapter and
recorded in one transaction. Every way a task can end is a state a seller can read:

- finished: completed (with or without failed offers), cancelled (asked, or the integration
  was deactivated), or failed (the channel refused our credentials; the same unexpected error
  MAX_CHUNK_ERRORS times; the channel silent for MAX_SILENT_PAUSES pauses);
- paused until a time, holding no worker: a budget is spent ("Allegro's limit of offer edits
  per seller: 74,700 an hour reached — continuing at 15:00"), the channel asked us to wait
  (429 with a long Retry-After), the channel did not answer SILENT_CHUNKS chunks in a row, or
  an unexpected error (retried a few times with growing delays);
- handed on: the next task is enqueued at the cursor.

The sweeper (`requeue_stale_runs`, every few seconds from the resync cluster) wakes paused runs
when their time comes, finishes cancels nobody works on, and re-enqueues runs whose lease
expired (a killed worker, a lost task) — a killed worker's run moves again within
RESYNC_LEASE_SECONDS plus one sweep.
"""

import logging
import math
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, QuerySet, Value
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.channels import sends_photo_binaries_always
from integrations.models import Integration, ResyncFailure, ResyncRun
from integrations.shopconnect import budgets as channel_budgets
from offers.models import OfferChannel, OfferParameter, OfferPhoto, SiteJournal

logger = logging.getLogger(__name__)

RESYNC_CLUSTER = "resync"
# A chunk's requests (waits, retries, timeouts included) end within this many seconds.
CHUNK_DEADLINE_SECONDS = 45.0
# The same unexpected error this many times in a row fails the run.
MAX_CHUNK_ERRORS = 3
# Chunks in a row with nothing but transport failures before the run pauses; pauses before it
# fails (the delays grow: 1, 2, 4, 8 minutes).
SILENT_CHUNKS = 3
MAX_SILENT_PAUSES = 4
SAMPLES_KEPT = 2880  # two days of minutes


class ResyncError(Exception):
    """A resync cannot be started or changed; the message is for the seller."""


class ResyncAlreadyRunning(ResyncError):
    def __init__(self, run: ResyncRun):
        self.run = run
        super().__init__(
            _("A resync of %(integration)s is already running (%(processed)s of %(total)s offers).")
            % {"integration": run.integration.name, "processed": run.processed, "total": run.total}
        )


def lease_seconds() -> int:
    return settings.RESYNC_LEASE_SECONDS


def active_links(integration: Integration):
    """The links a resync sends: the integration's active offers."""
    return OfferChannel.objects.filter(integration=integration, active=True)


def _run_links(run: ResyncRun):
    """What a run visits: the integration's active offers up to the run's last offer (offers
    added during the run go with the next one), limited to a retry's failures."""
    links = active_links(run.integration)
    if run.last_offer_id is not None:
        links = links.filter(offer_id__lte=run.last_offer_id)
    if run.retry_of_id:
        failed = ResyncFailure.objects.filter(run_id=run.retry_of_id)
        if run.retry_filter:
            failed = failed.filter(
                code=run.retry_filter.get("code", ""), message=run.retry_filter.get("message", "")
            )
        links = links.filter(offer_id__in=failed.values("offer_id"))
    if run.differing_of_id:
        from integrations.models import DriftItem

        differing = DriftItem.objects.filter(
            check_run_id=run.differing_of_id,
            kind__in=[DriftItem.Kind.DIFFERS, DriftItem.Kind.MISSING],
            offer__isnull=False,
        )
        links = links.filter(offer_id__in=differing.values("offer_id"))
    return links


def resync_offer_count(integration: Integration) -> int:
    return active_links(integration).count()


# --- estimates -------------------------------------------------------------------------------


@dataclass
class Estimate:
    seconds: int
    # The budget that sets the duration (its label), and how many other active resyncs share
    # one of the integration's budgets.
    binding: str
    sharing: int


def _sharing_runs(integration: Integration, keys: set[str]) -> dict[str, int]:
    """Budget key → other active runs spending it (a budget shared by integrations)."""
    counts: dict[str, int] = defaultdict(int)
    others = (
        ResyncRun.objects.active()
        .filter(integration__channel=integration.channel)
        .exclude(integration=integration)
        .select_related("integration")
    )
    for run in others:
        for budget in channel_budgets.budgets_for(run.integration).values():
            if budget.key in keys:
                counts[budget.key] += 1
    return counts


def resync_estimate(
    integration: Integration, offers: int | None = None, *, data_types: str = "all"
) -> Estimate:
    """How long a resync of `offers` takes at the channel's budgets, every window counted, each
    shared budget divided among the active resyncs that spend it."""
    if offers is None:
        offers = resync_offer_count(integration)
    budgets = channel_budgets.budgets_for(integration)
    sharing = _sharing_runs(integration, {b.key for b in budgets.values()})
    costs = integration.facts.cost_per_offer[data_types]
    seconds, binding = 0.0, ""
    for name, budget in budgets.items():
        if name not in costs or not budget.limits:
            continue
        spenders = 1 + sharing.get(budget.key, 0)
        needed = channel_budgets.seconds_to_spend(offers * costs[name] * spenders, budget.limits)
        if needed > seconds:
            seconds, binding = needed, str(budget.label)
    return Estimate(math.ceil(seconds), binding, max(sharing.values(), default=0))


def resync_estimate_seconds(
    integration: Integration, offers: int | None = None, *, data_types: str = "all"
) -> int:
    return resync_estimate(integration, offers, data_types=data_types).seconds


def offers_per_minute_limit(integration: Integration) -> float:
    """The most offers a minute the channel's budgets allow this integration (its plot's line)."""
    costs = integration.facts.cost_per_offer["all"]
    # Per minute, as the plot's bars count: the shortest window's pace (Allegro: 2,490 edits in
    # a minute, though its hour allows 1,245 a minute on average).
    rates = [
        min(budget.limits, key=lambda w: w.seconds).count
        / min(budget.limits, key=lambda w: w.seconds).seconds
        * 60
        / costs[name]
        for name, budget in channel_budgets.budgets_for(integration).items()
        if name in costs and budget.limits
    ]
    return min(rates, default=0.0)


# --- services --------------------------------------------------------------------------------


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
            run.last_offer_id = _run_links(run).aggregate(last=Max("offer_id"))["last"] or 0
            run.total = _run_links(run).count()
            run.save()
            transaction.on_commit(lambda: enqueue_chunk(run.pk, 0))
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
    enqueue_chunk(run.pk, run.cursor)
    logger.info("resync %s resumed from %s by user %s", run.pk, source, getattr(user, "pk", None))
    return run


def retry_failed(run: ResyncRun, *, user=None, source: str, group: dict | None = None) -> ResyncRun:
    """Start a run limited to the offers that failed in `run` (or to one group of them:
    {"code": …, "message": …})."""
    if run.is_active:
        raise ResyncError(_("This resync is still running; retry its failures when it ends."))
    failures = run.failures.all()
    if group:
        group = {"code": group.get("code", ""), "message": group.get("message", "")}
        failures = failures.filter(**group)
    if not failures.exists():
        raise ResyncError(_("This resync has no failed offers to retry."))
    return start_resync(run.integration, user=user, source=source, retry_of=run, retry_filter=group)


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


def _items_to_send(run: ResyncRun, chunk: Chunk):
    """Decide what goes per offer and set aside offers that cannot be sent.

    Photos (DESIGN.md §2 rule 2) go with content: always to Allegro and Zalando, elsewhere when
    the photo set changed since the journal's hash — or always, when the run asks for photos
    too. A prices-and-stock run sends no content and no photos.
    """
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
        send_content = run.data_types != ResyncRun.DataTypes.PRICES_STOCK
        if not send_content:
            send_photos = False
        elif always_photos or run.photos_too:
            send_photos = True
        else:
            send_photos = offer.photos_hash() != chunk.journal_photos.get(offer.pk, "")
        items.append(
            OfferToSend(
                offer=offer,
                link=link,
                send_photos=send_photos,
                send_content=send_content,
                send_prices_stock=run.data_types != ResyncRun.DataTypes.CONTENT,
            )
        )
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
# What a partial resync writes: only what it sent.
JOURNAL_FIELDS_BY_DATA_TYPES = {
    ResyncRun.DataTypes.ALL: JOURNAL_SENT_FIELDS,
    ResyncRun.DataTypes.CONTENT: ("photos_hash", "content_hash", "synced_at", "status", "message"),
    ResyncRun.DataTypes.PRICES_STOCK: (
        "synced_at",
        "status",
        "message",
        "price_sent",
        "currency_sent",
        "stock_sent",
    ),
}


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


class LeaseLost(Exception):
    """Another task holds the run now: this one stops without writing."""


class LeaseKeeper:
    """Renews the task's lease every few seconds from a thread, while the task works."""

    def __init__(self, run_id: int, token: str):
        self.run_id, self.token = run_id, token
        # Called once when the run is being cancelled: the chunk in flight stops sending.
        self.on_cancel = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _keep(self):
        every = max(lease_seconds() / 4, 0.5)
        try:
            while not self._stop.wait(every):
                if not ResyncRun.objects.renew(
                    self.run_id, self.token, lease_seconds=lease_seconds()
                ):
                    self.lost.set()
                    return
                status = ResyncRun.objects.filter(pk=self.run_id).values_list("status", flat=True)
                if self.on_cancel and status.first() == ResyncRun.Status.CANCELLING:
                    self.on_cancel()
                    self.on_cancel = None
        except Exception:
            logger.exception("resync %s: the lease could not be renewed", self.run_id)
        finally:
            connection.close()


def _short_error(exc: BaseException, integration: Integration | None) -> str:
    """An exception as a seller may read it: its kind and first line, no secret in it."""
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    for secret in (integration.credentials or {}).values() if integration else ():
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _at(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.get_current_timezone())
    return formats.time_format(timezone.localtime(moment), "H:i")


def hold_reason(held, *, channel: str) -> str:
    """Why the run waits, for the seller: the limit that binds and when work resumes."""
    if held.throttled or held.budget is None or held.limit is None:
        # A 429 — this run's, or another integration's on the same budget (its block).
        return _("%(channel)s asked us to wait — continuing at %(time)s.") % {
            "channel": channel,
            "time": _at(held.until),
        }
    window = held.limit.seconds
    period = (
        _("an hour")
        if window == 3600
        else _("a minute")
        if window == 60
        else _("a second")
        if window == 1
        else ngettext("%(n)s second", "%(n)s seconds", window) % {"n": window}
    )
    return _("%(limit)s (%(count)s %(unit)s in %(period)s) reached — continuing at %(time)s.") % {
        "limit": held.budget.label,
        "count": formats.number_format(held.limit.count, force_grouping=True),
        "unit": held.budget.unit,
        "period": period,
        "time": _at(held.until),
    }


def process_chunk(run_id: int, cursor: int) -> None:
    """Work on the run from `cursor` for RESYNC_TASK_SECONDS, then enqueue the rest.

    A cancel is honoured first, before anything that can raise. Each chunk commits on its own
    (journal, failures, counters, cursor), so a killed worker loses at most the chunk in
    flight. While a chunk is being sent, the next one is read from the database. A duplicate
    task finds the cursor moved or the lease taken and does nothing.
    """
    if ResyncRun.objects.end_idle_cancels(pk=run_id):
        logger.info("resync %s cancelled", run_id)
        return
    token = ResyncRun.objects.claim(run_id, cursor, lease_seconds=lease_seconds())
    if token is None:
        return
    work = _run_chunks
    kind = ResyncRun.objects.filter(pk=run_id).values_list("kind", flat=True).first()
    if kind == ResyncRun.Kind.CHECK:  # a drift check reads instead (integrations/drift.py)
        from integrations import drift

        work = drift.run_check
    deadline = time.monotonic() + settings.RESYNC_TASK_SECONDS
    next_cursor = None
    with LeaseKeeper(run_id, token) as lease:
        try:
            next_cursor = work(run_id, token, deadline, lease)
        except LeaseLost:
            logger.warning("resync %s: the lease was lost; another task goes on", run_id)
            return
        except Exception as exc:
            _chunk_raised(run_id, token, exc)
            return
    if next_cursor is not None:
        enqueue_chunk(run_id, next_cursor)


def _chunk_raised(run_id: int, token: str, exc: Exception) -> None:
    """An unexpected error: try again after a growing delay, then fail the run with it."""
    logger.exception("resync %s: a chunk raised", run_id)
    run = ResyncRun.objects.select_related("integration").filter(pk=run_id).first()
    if run is None:
        return
    error = _short_error(exc, run.integration)
    errors = run.chunk_errors + 1
    if errors >= MAX_CHUNK_ERRORS:
        message = _(
            "The resync stopped: the same unexpected error happened %(count)s times in a row "
            "(%(error)s). Resume it once the cause is fixed."
        ) % {"count": errors, "error": error}
        status = ResyncRun.Status.FAILED
        if run.status == ResyncRun.Status.CANCELLING:
            status, message = ResyncRun.Status.CANCELLED, ""
        ResyncRun.objects.finish(run_id, token, status, error=message, chunk_errors=errors)
        _notify_finished(run_id)
        return
    until = timezone.now() + timedelta(seconds=10 * errors)
    reason = _("An unexpected error interrupted the resync (%(error)s) — trying again at %(time)s.")
    paused = ResyncRun.objects.pause(
        run_id,
        token,
        until=until,
        reason=reason % {"error": error, "time": _at(until)},
        chunk_errors=errors,
    )
    if not paused:  # being cancelled: that ends it
        ResyncRun.objects.release(run_id, token)
        ResyncRun.objects.end_idle_cancels(pk=run_id)


def _send(adapter, items, deadline):
    try:
        return list(adapter.send(items, deadline=deadline)) if items else []
    finally:
        connection.close()  # this thread's own connection, if the adapter opened one


def _run_chunks(run_id: int, token: str, deadline: float, lease: LeaseKeeper) -> int | None:
    """Send chunks until the run ends or pauses (None) or the time box is used up (the cursor
    to go on from, with the lease released)."""
    from integrations.shopconnect import adapter_for
    from integrations.shopconnect.base import ChannelAuthError
    from integrations.shopconnect.http import MAX_BUDGET_WAIT, Held

    runs = ResyncRun.objects
    run = runs.select_related("integration").get(pk=run_id)
    integration = run.integration
    channel = integration.get_channel_display()
    size = integration.facts.chunk_size
    adapter = adapter_for(integration)
    try:
        adapter.prepare()
    except ChannelAuthError as exc:
        _end(run_id, token, ResyncRun.Status.FAILED, str(exc))
        return None
    _note_sharing(run, adapter)
    lease.on_cancel = adapter.stop
    following = None
    with ThreadPoolExecutor(1, thread_name_prefix=f"resync-{run_id}") as sender:
        while True:
            if stopped_before_step(
                run_id, token, lease, _("The integration was deactivated, so its resync stopped.")
            ):
                return None
            chunk = following or _load_chunk(run, run.cursor, size)
            following = None
            if not chunk.links:
                _end(run_id, token, ResyncRun.Status.COMPLETED, done=run)
                return None
            # A chunk starts only when its budgets have room soon: a run that would wait longer
            # than a request may wait gives its worker back until then.
            grant = channel_budgets.peek(adapter.offer_spends(1, run.data_types))
            if grant.wait() > MAX_BUDGET_WAIT and grant.budget is not None:
                _pause(run, token, Held(grant.at, budget=grant.budget, limit=grant.limit), channel)
                return None
            items, refused = _items_to_send(run, chunk)
            chunk_deadline = time.monotonic() + CHUNK_DEADLINE_SECONDS
            sending = sender.submit(_send, adapter, items, chunk_deadline)
            last = len(chunk.links) < size or chunk.links[-1].offer_id >= (run.last_offer_id or 0)
            if not last:
                following = _load_chunk(run, chunk.links[-1].offer_id, size)
            try:
                results = refused + sending.result()
            except ChannelAuthError as exc:
                _end(run_id, token, ResyncRun.Status.FAILED, str(exc))
                logger.warning("resync %s failed: the channel refused the credentials", run_id)
                return None
            deferred = sorted(r.offer_id for r in results if r.deferred)
            if deferred:
                first = deferred[0]
                links = [link for link in chunk.links if link.offer_id < first]
                done = [r for r in results if r.offer_id < first]
                if links:
                    run = _record(run, token, chunk, links, done, finished=False)
                held = adapter.held
                if held is not None:
                    _pause(run, token, held, channel)
                else:  # defensive: deferred without a reason; go on at once
                    runs.release(run_id, token)
                    enqueue_chunk(run_id, run.cursor)
                return None
            run = _record(run, token, chunk, chunk.links, results, finished=last)
            if last:
                logger.info("resync %s finished", run_id)
                _notify_finished(run_id)
                return None
            if run.silent_chunks >= SILENT_CHUNKS:
                _silent_pause(run, token, channel)
                return None
            if time.monotonic() >= deadline:
                runs.release(run_id, token)
                return run.cursor


def stopped_before_step(run_id: int, token: str, lease: LeaseKeeper, deactivated: str) -> bool:
    """Before each step of a task: end the run if it is being cancelled or its integration was
    deactivated (`deactivated` is the reason); raise LeaseLost when another task has it."""
    status, active = (
        ResyncRun.objects.filter(pk=run_id).values_list("status", "integration__active").get()
    )
    if status == ResyncRun.Status.CANCELLING:
        _end(run_id, token, ResyncRun.Status.CANCELLED)
        return True
    if not active:
        _end(run_id, token, ResyncRun.Status.CANCELLED, deactivated)
        return True
    if lease.lost.is_set():
        raise LeaseLost(run_id)
    return False


def _note_sharing(run: ResyncRun, adapter) -> None:
    """Tell the seller when the run shares a budget with other resyncs (it goes slower)."""
    budgets = adapter.budgets()
    sharing = _sharing_runs(run.integration, {b.key for b in budgets.values()})
    notes = [
        ngettext(
            "Sharing %(limit)s with %(count)s other resync.",
            "Sharing %(limit)s with %(count)s other resyncs.",
            sharing[b.key],
        )
        % {"limit": b.label, "count": sharing[b.key]}
        for b in budgets.values()
        if sharing.get(b.key)
    ]
    ResyncRun.objects.filter(pk=run.pk).update(pause_reason=" ".join(notes)[:300])


def _pause(run: ResyncRun, token: str, held, channel: str) -> None:
    """Pause until the budget or the channel lets us go on; nothing is enqueued meanwhile."""
    until = datetime.fromtimestamp(held.until, tz=timezone.get_current_timezone())
    # Wake a moment early is pointless: the sweeper runs every few seconds.
    if not ResyncRun.objects.pause(
        run.pk, token, until=until, reason=hold_reason(held, channel=channel)
    ):
        ResyncRun.objects.release(run.pk, token)
        ResyncRun.objects.end_idle_cancels(pk=run.pk)
    logger.info("resync %s paused until %s", run.pk, until.isoformat())


def _silent_pause(run: ResyncRun, token: str, channel: str) -> None:
    """The channel answered nothing for SILENT_CHUNKS chunks: pause with growing delays, then
    fail."""
    pauses = run.silent_chunks - SILENT_CHUNKS + 1
    if pauses > MAX_SILENT_PAUSES:
        _end(
            run.pk,
            token,
            ResyncRun.Status.FAILED,
            _(
                "%(channel)s did not answer for %(count)s chunks in a row, even after "
                "%(pauses)s pauses. The offers it did not take are listed as failed; resume "
                "the resync when the channel is back."
            )
            % {"channel": channel, "count": run.silent_chunks, "pauses": MAX_SILENT_PAUSES},
        )
        return
    until = timezone.now() + timedelta(minutes=2 ** (pauses - 1))
    reason = _("%(channel)s does not answer — trying again at %(time)s.") % {
        "channel": channel,
        "time": _at(until),
    }
    if not ResyncRun.objects.pause(run.pk, token, until=until, reason=reason):
        ResyncRun.objects.release(run.pk, token)
        ResyncRun.objects.end_idle_cancels(pk=run.pk)


def _end(run_id: int, token: str, status: str, error: str = "", *, done: ResyncRun | None = None):
    fields = {}
    if done is not None:
        fields["total"] = done.processed  # what the run really visited
    ResyncRun.objects.finish(run_id, token, status, error=error, **fields)
    _notify_finished(run_id)


def _notify_finished(run_id: int) -> None:
    """Tell whoever started the run how it ended (integrations/notifications.py)."""
    try:
        from integrations.notifications import notify_run_finished
    except ImportError:
        return
    run = ResyncRun.objects.select_related("integration", "requested_by").get(pk=run_id)
    try:
        notify_run_finished(run)
    except Exception:
        logger.exception("resync %s: the finish notification failed", run_id)


def _live_offers(integration_id: int, offer_ids) -> set[int]:
    """Offers of the chunk that still exist and are still active on the integration."""
    return set(
        OfferChannel.objects.filter(
            integration_id=integration_id, offer_id__in=offer_ids, active=True
        ).values_list("offer_id", flat=True)
    )


def _clean(text: str) -> str:
    # PostgreSQL refuses NUL in text; channels' messages may carry anything.
    return (text or "").replace("\x00", "")


def _record(run: ResyncRun, token: str, chunk: Chunk, links, results, *, finished: bool):
    """Write a chunk's outcome in one transaction: journal rows, failures, counters, cursor.

    A constant number of queries. Offers deleted or deactivated meanwhile are skipped (visited,
    not journaled). A photo hash is written only where the journal still holds the one read
    with the chunk: a forced photo resend (deactivate and re-activate the channel on an offer)
    made meanwhile is not undone. The cursor moves in the same transaction, so a chunk is
    either recorded whole or not at all.
    """
    now = timezone.now()
    by_offer = {link.offer_id: link.offer for link in links}
    integration_id = run.integration_id
    offer_ids = list(by_offer)
    ok_rows, error_rows, failures = [], [], []
    sent = failed = photos = photo_files = transport = 0
    sent_fields = JOURNAL_FIELDS_BY_DATA_TYPES[run.data_types]
    with transaction.atomic():
        live = _live_offers(integration_id, offer_ids)
        journal = SiteJournal.objects.filter(integration_id=integration_id, offer_id__in=offer_ids)
        if connection.features.has_select_for_update:
            journal = journal.select_for_update()
        photos_now = dict(journal.values_list("offer_id", "photos_hash"))
        for result in results:
            offer = by_offer.get(result.offer_id)
            if offer is None or result.offer_id not in live:
                continue
            read = chunk.journal_photos.get(offer.pk, "")
            current = photos_now.get(offer.pk, "")
            if result.ok:
                sent += 1
                photos += bool(result.photos_sent)
                photo_files += result.photo_files
                photos_hash = offer.photos_hash() if result.photos_sent else read
                if current != read:  # changed since the chunk was read: keep the change
                    photos_hash = current
                status = SiteJournal.Status.WARNING if result.message else SiteJournal.Status.OK
                values = {
                    "photos_hash": photos_hash,
                    "content_hash": offer.content_hash(),
                    "synced_at": now,
                    "status": status,
                    "message": _clean(result.message),
                    "price_sent": offer.price,
                    "currency_sent": offer.currency,
                    "stock_sent": offer.stock,
                }
                ok_rows.append((offer.pk, integration_id, *(values[f] for f in sent_fields)))
            else:
                failed += 1
                transport += result.code == "channel_unavailable"
                message = _clean(result.message)
                error_rows.append(
                    (offer.pk, integration_id, now, SiteJournal.Status.ERROR, message)
                )
                failures.append(
                    ResyncFailure(
                        run_id=run.pk,
                        offer=offer,
                        http_status=result.http_status,
                        code=_clean(result.code or "")[:100],
                        message=message,
                        attempts=result.attempts,
                    )
                )
        silent = run.silent_chunks + 1 if failed and transport == failed and not sent else 0
        _upsert_journal(ok_rows, sent_fields)
        _upsert_journal(error_rows, JOURNAL_FAILED_FIELDS)
        if failures:
            ResyncFailure.objects.bulk_create(
                failures,
                update_conflicts=True,
                unique_fields=["run", "offer"],
                update_fields=["http_status", "code", "message", "attempts"],
            )
        samples = _add_sample(run.samples, now, len(links))
        fields = {
            "cursor": links[-1].offer_id,
            "processed": F("processed") + len(links),
            "sent": F("sent") + sent,
            "failed": F("failed") + failed,
            "photos_sent": F("photos_sent") + photos,
            "photo_files_sent": F("photo_files_sent") + photo_files,
            "heartbeat_at": now,
            "samples": samples,
            "silent_chunks": silent,
            "chunk_errors": 0,
            "lease_expires_at": now + timedelta(seconds=lease_seconds()),
        }
        updated = ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(**fields)
        if not updated:
            # Our lease expired and another task took the run: its result wins, ours is undone.
            raise LeaseLost(run.pk)
    run.cursor, run.samples, run.silent_chunks = links[-1].offer_id, samples, silent
    run.processed += len(links)
    if finished:
        _end(run.pk, token, _final_status(run.pk), done=run)
    return run


def _final_status(run_id: int) -> str:
    status = ResyncRun.objects.filter(pk=run_id).values_list("status", flat=True).get()
    if status == ResyncRun.Status.CANCELLING:
        return ResyncRun.Status.CANCELLED
    return ResyncRun.Status.COMPLETED


def _add_sample(samples: list, now: datetime, offers: int) -> list:
    """Offers per minute for the run's plot: [[unix minute start, offers], …]."""
    minute = int(now.timestamp()) // 60 * 60
    samples = [list(s) for s in (samples or [])]
    if samples and samples[-1][0] == minute:
        samples[-1][1] += offers
    else:
        samples.append([minute, offers])
    return samples[-SAMPLES_KEPT:]


def requeue_stale_runs() -> int:
    """The sweeper: wake paused runs whose time came, end cancels nobody works on, re-enqueue
    runs nobody works on (a killed worker, or a broker that lost the task).

    Run every few seconds by the resync cluster (integrations/cluster.py) and once a minute by
    a django-q2 schedule. A duplicate enqueue is harmless (see ResyncRunQuerySet.claim).
    """
    runs = ResyncRun.objects
    ended = runs.end_idle_cancels()
    handed = runs.wake_paused()
    for run_id, cursor in runs.stale(stale_seconds=settings.RESYNC_HEARTBEAT_STALE_SECONDS):
        logger.warning("resync %s looks stuck at offer %s: re-enqueued", run_id, cursor)
        handed.append((run_id, cursor))
    for run_id, cursor in handed:
        enqueue_chunk(run_id, cursor)
    return ended + len(handed)

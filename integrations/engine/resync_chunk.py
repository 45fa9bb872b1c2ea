"""A resync's step: send the next chunk of offers and record what the channel answered.

Each chunk is read by keyset after the cursor (selection.py), checked against the channel's
budgets, sent through the adapter and recorded in one transaction: journal rows, failures,
counters and the cursor. While a chunk is being sent, the next one is read from the database.
"""

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from integrations import shopconnect
from integrations.channels import sends_photo_binaries_always
from integrations.engine.selection import Chunk, load_chunk
from integrations.engine.skeleton import (
    SILENT_CHUNKS,
    End,
    GoOn,
    LeaseLost,
    Step,
    Wait,
    WaitSilent,
    lease_seconds,
)
from integrations.models import Integration, ResyncFailure, ResyncRun
from integrations.shopconnect import budgets as channel_budgets
from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.http import MAX_BUDGET_WAIT, Held
from offers.models import OfferChannel, SiteJournal

logger = logging.getLogger(__name__)

SAMPLES_KEPT = 2880  # two days of minutes


class ResyncChunks(Step):
    """Send chunks of the run's offers; the run completes after its last offer."""

    deactivated = gettext_lazy("The integration was deactivated, so its resync stopped.")

    def __init__(self, run: ResyncRun, token: str):
        super().__init__(run, token)
        self.size = run.integration.facts.chunk_size
        self.adapter = shopconnect.adapter_for(run.integration)
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"resync-{run.pk}")
        self.following: Chunk | None = None

    def prepare(self):
        self.adapter.prepare()  # ChannelAuthError: the skeleton fails the run with its message
        note_sharing(self.run, self.adapter)
        return None

    def stop(self):
        self.adapter.stop()

    def close(self):
        self.sender.shutdown(wait=True)

    def advance(self, deadline: float):
        run, adapter = self.run, self.adapter
        chunk = self.following or load_chunk(run, run.cursor, self.size)
        self.following = None
        if not chunk.links:
            return End(ResyncRun.Status.COMPLETED, fields={"total": run.processed})
        # A chunk starts only when its budgets have room soon: a run that would wait longer
        # than a request may wait gives its worker back until then.
        grant = channel_budgets.peek(adapter.offer_spends(1, run.data_types))
        if grant.wait() > MAX_BUDGET_WAIT and grant.budget is not None:
            return Wait(Held(grant.at, budget=grant.budget, limit=grant.limit))
        items, refused = items_to_send(run, chunk)
        sending = self.sender.submit(_send, adapter, items, deadline)
        last = len(chunk.links) < self.size or chunk.links[-1].offer_id >= (run.last_offer_id or 0)
        if not last:
            self.following = load_chunk(run, chunk.links[-1].offer_id, self.size)
        results = refused + sending.result()
        deferred = sorted(r.offer_id for r in results if r.deferred)
        if deferred:
            first = deferred[0]
            links = [link for link in chunk.links if link.offer_id < first]
            done = [r for r in results if r.offer_id < first]
            if links:
                self.run = record(run, self.token, chunk, links, done)
            if adapter.held is not None:
                return Wait(adapter.held)
            return GoOn(self.run.cursor)  # defensive: deferred without a reason; go on at once
        self.run = run = record(run, self.token, chunk, chunk.links, results)
        if last:
            logger.info("resync %s finished", run.pk)
            return End(ResyncRun.Status.COMPLETED, fields={"total": run.processed})
        if run.silent_chunks >= SILENT_CHUNKS:
            return WaitSilent(run.silent_chunks)
        return None


def sharing_runs(integration: Integration, keys: set[str]) -> dict[str, int]:
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


def items_to_send(run: ResyncRun, chunk: Chunk):
    """Decide what goes per offer and set aside offers that cannot be sent.

    Photos (DESIGN.md §2 rule 2) go with content: always to Allegro and Zalando, elsewhere when
    the photo set changed since the journal's hash — or always, when the run asks for photos
    too. A prices-and-stock run sends no content and no photos.
    """
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


def _adapted(value):
    """A value as the ORM writes it. Raw SQL hands a datetime to the driver as it is, and on
    SQLite that text ("…+00:00") sorts apart from the ORM's ("…" in UTC), so the sync log's
    keyset pages skipped rows that share a timestamp (issue 20)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def upsert_journal(rows: list[tuple], fields: tuple[str, ...]) -> None:
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
        cursor.execute(sql, [_adapted(value) for row in rows for value in row])


def _send(adapter, items, deadline):
    try:
        return list(adapter.send(items, deadline=deadline)) if items else []
    finally:
        connection.close()  # this thread's own connection, if the adapter opened one


def note_sharing(run: ResyncRun, adapter) -> None:
    """Tell the seller when the run shares a budget with other resyncs (it goes slower)."""
    budgets = adapter.budgets()
    sharing = sharing_runs(run.integration, {b.key for b in budgets.values()})
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


def live_offers(integration_id: int, offer_ids) -> set[int]:
    """Offers of the chunk that still exist and are still active on the integration."""
    return set(
        OfferChannel.objects.filter(
            integration_id=integration_id, offer_id__in=offer_ids, active=True
        ).values_list("offer_id", flat=True)
    )


def clean_text(text: str) -> str:
    # PostgreSQL refuses NUL in text; channels' messages may carry anything.
    return (text or "").replace("\x00", "")


def record(run: ResyncRun, token: str, chunk: Chunk, links, results) -> ResyncRun:
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
        live = live_offers(integration_id, offer_ids)
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
                    "message": clean_text(result.message),
                    "price_sent": offer.price,
                    "currency_sent": offer.currency,
                    "stock_sent": offer.stock,
                }
                ok_rows.append((offer.pk, integration_id, *(values[f] for f in sent_fields)))
            else:
                failed += 1
                transport += result.code == "channel_unavailable"
                message = clean_text(result.message)
                error_rows.append(
                    (offer.pk, integration_id, now, SiteJournal.Status.ERROR, message)
                )
                failures.append(
                    ResyncFailure(
                        run_id=run.pk,
                        offer=offer,
                        http_status=result.http_status,
                        code=clean_text(result.code or "")[:100],
                        message=message,
                        attempts=result.attempts,
                    )
                )
        silent = run.silent_chunks + 1 if failed and transport == failed and not sent else 0
        upsert_journal(ok_rows, sent_fields)
        upsert_journal(error_rows, JOURNAL_FAILED_FIELDS)
        if failures:
            ResyncFailure.objects.bulk_create(
                failures,
                update_conflicts=True,
                unique_fields=["run", "offer"],
                update_fields=["http_status", "code", "message", "attempts"],
            )
        samples = add_sample(run.samples, now, len(links))
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
    return run


def add_sample(samples: list, now: datetime, offers: int) -> list:
    """Offers per minute for the run's plot: [[unix minute start, offers], …]."""
    minute = int(now.timestamp()) // 60 * 60
    samples = [list(s) for s in (samples or [])]
    if samples and samples[-1][0] == minute:
        samples[-1][1] += offers
    else:
        samples.append([minute, offers])
    return samples[-SAMPLES_KEPT:]

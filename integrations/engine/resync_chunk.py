"""A resync's step: send the next chunk of offers and record what the channel answered.

Each chunk is read by keyset after the cursor (selection.py), checked against the channel's
budgets, sent through the adapter and recorded in one transaction: journal rows, failures,
counters and the cursor. While a chunk is being sent, the next one is read from the database.
"""

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import ngettext

from integrations import shopconnect
from integrations.channels import sends_photo_binaries_always
from integrations.engine import batches
from integrations.engine.reasons import at_second, pace_reason
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
from integrations.models import ChannelBatch, Integration, ResyncFailure, ResyncRun
from integrations.shopconnect import budgets as channel_budgets
from integrations.shopconnect.base import (
    NoListing,
    OfferKeys,
    OfferResult,
    OfferToSend,
    stored_text,
)
from integrations.shopconnect.http import HOST_UNREACHABLE, MAX_BUDGET_WAIT, Held
from integrations.sync import newest
from integrations.wording import Reason
from offers.models import OfferChannel, SiteJournal

DEACTIVATED = Reason("The integration was deactivated, so its resync stopped.")

logger = logging.getLogger(__name__)

SAMPLES_KEPT = 2880  # two days of minutes
# A report due within this many seconds is waited for in place rather than by pausing.
SHORT_REPORT_WAIT = 3.0
# While a chunk goes, the offers the channel has answered are written this often (a chunk of a
# small share of a shared budget lasts long; the page moves meanwhile).
PROGRESS_SECONDS = 2.0


class ResyncChunks(Step):
    """Send chunks of the run's offers; the run completes after its last offer, once the
    channel has reported on every batch it registered (engine/batches.py)."""

    deactivated = DEACTIVATED

    def __init__(self, run: ResyncRun, token: str):
        super().__init__(run, token)
        facts = run.integration.facts
        self.adapter = shopconnect.adapter_for(run.integration)
        # A run that goes in batches (offers sharing a value, an Amazon feed) goes in larger
        # chunks: larger groups.
        self.batched = self.adapter.goes_in_batches(run.total, run.data_types)
        self.size = facts.batch_chunk_size if self.batched else facts.chunk_size
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"resync-{run.pk}")
        self.following: Chunk | None = None
        self.told_pace = ""
        self.sharing: dict[str, int] = {}

    def prepare(self):
        self.run = take_back_in_flight(self.run, self.token)
        self.adapter.prepare()  # ChannelAuthError: the skeleton fails the run with its message
        self.sharing = note_sharing(self.run, self.adapter)
        return None

    def stop(self):
        self.adapter.stop()

    def close(self):
        self.sender.shutdown(wait=True)

    def outstanding(self) -> bool:
        return batches.has_unfinished_work(self.run.pk)

    def advance(self, deadline: float):
        if self.cancelling:  # no new chunk: the reports of registered batches only
            held, _ = self.settle_batches(deadline)
            return Wait(held) if held else self.wait_for_reports(deadline)
        run, adapter = self.run, self.adapter
        chunk = self.following or load_chunk(run, run.cursor, self.size)
        self.following = None
        if not chunk.links:
            held, _ = self.settle_batches(deadline)
            return Wait(held) if held else self.wait_for_reports(deadline)
        # A chunk starts only when its budgets have room soon: a run that would wait longer
        # than a request may wait gives its worker back until then.
        grant = channel_budgets.peek(adapter.offer_spends(1, run.data_types))
        if grant.wait() > MAX_BUDGET_WAIT and grant.budget is not None:
            return Wait(Held(grant.at, budget=grant.budget, limit=grant.limit))
        items, refused = items_to_send(run, chunk, adapter)
        items, plans = adapter.plan_batches(
            # The whole run's size: a share computed for what is left, as if the budgets' hour
            # windows were empty, drifts (bench/README.md, issue 18).
            items,
            run_offers=max(run.total, 1),
            batched=self.batched,
        )
        sending = self.sender.submit(_send, adapter, items, deadline)
        last = len(chunk.links) < self.size or chunk.links[-1].offer_id >= (run.last_offer_id or 0)
        if not last:
            self.following = load_chunk(run, chunk.links[-1].offer_id, self.size)
        # Earlier chunks' batches go while this chunk's requests do: every budget at once. A
        # batch a budget holds back waits for a later step; the chunk goes on.
        self.settle_batches(deadline, alongside=sending.done)
        run = self.run = self.follow(sending)
        results = refused + sending.result()
        pace = self.pace_to_tell(adapter.pacing)
        links = chunk.links
        deferred = sorted(r.offer_id for r in results if r.deferred)
        if deferred:
            first = deferred[0]
            links = [link for link in chunk.links if link.offer_id < first]
            results = [r for r in results if r.offer_id < first]
            for plan in plans:  # offers after the first deferred one are planned again later
                plan.offer_ids = [o for o in plan.offer_ids if o < first]
        if links:
            rows = batches.prepared(
                run, plans, group=links[-1].offer_id, journal_photos=chunk.journal_photos
            )
            self.run = run = record(run, self.token, chunk, links, results, batches=rows, pace=pace)
        if deferred:
            if adapter.held is not None:
                return Wait(adapter.held)
            return GoOn(self.run.cursor)  # defensive: deferred without a reason; go on at once
        if last:
            return self.wait_for_reports(deadline)
        if run.silent_chunks >= SILENT_CHUNKS:
            return WaitSilent(run.silent_chunks)
        return None

    def follow(self, sending) -> ResyncRun:
        """Wait for the chunk's send, writing every PROGRESS_SECONDS how many of its offers the
        channel has answered (shown, not counted: `record` counts the chunk)."""
        run = self.run
        while not wait([sending], timeout=PROGRESS_SECONDS).done:
            run = note_in_flight(run, self.token, self.adapter.answered())
        return run

    def pace_to_tell(self, pacing) -> str | None:
        """When a budget made the chunk's requests wait, which one, and the run's share of it
        (recorded with the chunk; None when the seller already reads it)."""
        if pacing is None:
            return None
        budget, limit = pacing
        reason = pace_reason(budget, limit, sharing=self.sharing.get(budget.key, 0))
        if reason == self.told_pace:
            return None
        self.told_pace = reason
        return reason

    def settle_batches(self, deadline: float, *, alongside=None):
        """Submit the batches written, read the reports due, record the groups reported on.
        Returns (the Held that stopped it or None, batches asked). `alongside`: a chunk's
        `send` is in flight on the same client, which it set up for this step already; the
        batches go on until it says the send is done."""
        if not batches.has_unfinished_work(self.run.pk):
            return None, 0
        if alongside is None:
            self.adapter.begin_batches(deadline)
        held, asked = None, 0
        try:
            asked = batches.work_due(
                self.run,
                self.adapter,
                stop=lambda: time.monotonic() >= deadline or (alongside and alongside()),
                linger=alongside is not None,
            )
        except Held as exc:
            held = exc
        for group in batches.groups_to_record(self.run.pk):
            self.run = record_group(self.run, self.token, group)
        return held, asked

    def wait_for_reports(self, deadline: float):
        """Every offer is visited (or a cancel stops new batches): the run ends once the
        channel has reported on every batch; until the next look it holds no worker."""
        run = self.run
        if not batches.has_unfinished_work(run.pk):
            logger.info("resync %s finished", run.pk)
            if self.cancelling:
                return End(ResyncRun.Status.CANCELLED, self.stop_reason)
            return End(ResyncRun.Status.COMPLETED, fields={"total": run.processed})
        look = batches.next_look(run.pk)
        if look is None:  # all reported, some groups not recorded yet: record them now
            return None
        wait = (look - timezone.now()).total_seconds()
        if wait <= 0:
            return None
        if wait <= SHORT_REPORT_WAIT and time.monotonic() + wait < deadline:
            time.sleep(wait)  # the next look is moments away: not worth a pause
            return None
        reason = ngettext(
            "%(channel)s registered %(count)s offer and is carrying the change out; xSale "
            "looks at its report again at %(time)s. Nothing to do meanwhile.",
            "%(channel)s registered %(count)s offers and is carrying the change out; xSale "
            "looks at its report again at %(time)s. Nothing to do meanwhile.",
            run.awaiting,
        ) % {
            "channel": run.integration.get_channel_display(),
            "count": run.awaiting,
            "time": at_second(look),
        }
        return Wait(Held(look.timestamp(), reason=reason))


def record_group(run: ResyncRun, token: str, group: int) -> ResyncRun:
    """Record the outcome of a group of batches the channel reported on, as a chunk's."""
    results, journal_photos = batches.group_results(run.pk, group)
    links = list(
        OfferChannel.objects.filter(integration_id=run.integration_id, offer_id__in=results)
        .select_related("offer")
        .prefetch_related("offer__photos")
        .order_by("offer_id")
    )
    chunk = Chunk(links=links, journal_photos=journal_photos)
    return record(run, token, chunk, links, list(results.values()), settles=(group, len(results)))


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


def items_to_send(run: ResyncRun, chunk: Chunk, adapter):
    """Decide what goes per offer and set aside offers that cannot be sent: those that name
    no listing by the channel's rule (the adapter's `listing_key`, the rule of its sends and
    of a drift check alike).

    Photos (docs/architecture.md, product rule 2) go with content: always to Allegro and Zalando,
    elsewhere when
    the photo set changed since the journal's hash — or always, when the run asks for photos
    too. A prices-and-stock run sends no content and no photos.
    """
    integration = run.integration
    always_photos = sends_photo_binaries_always(integration.channel)
    items, refused = [], []
    for link in chunk.links:
        offer = link.offer
        try:
            adapter.listing_key(OfferKeys.of(link))
        except NoListing as exc:
            refused.append(
                OfferResult(
                    offer_id=offer.pk, ok=False, code=exc.code, message=exc.message, attempts=0
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


JOURNAL_PARAMETERS = 30_000


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
    # A statement holds at most JOURNAL_PARAMETERS values (SQLite's 32,766 and PostgreSQL's
    # 65,535 bind parameters): an Amazon feed's group records 10,000 offers at once.
    per_statement = max(1, JOURNAL_PARAMETERS // (len(rows[0]) + 4))
    if len(rows) > per_statement:
        for start in range(0, len(rows), per_statement):
            upsert_journal(rows[start : start + per_statement], fields)
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


def note_sharing(run: ResyncRun, adapter) -> dict[str, int]:
    """Tell the seller when the run shares a budget with other resyncs (it goes slower);
    returns {budget key: other runs spending it}."""
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
    if notes:  # none: what the page says of the pace stays (a chunk tells it when it changes)
        ResyncRun.objects.filter(pk=run.pk).update(pause_reason=" ".join(notes)[:300])
    return sharing


def note_in_flight(run: ResyncRun, token: str, answered: int) -> ResyncRun:
    """Write the offers of the chunk under way that the channel has answered: the run's
    `in_flight`, its plot's minute and a progress point. Counters and the cursor stay: a crash
    still loses at most this chunk, which is sent again (`take_back_in_flight`)."""
    if answered <= run.in_flight:
        return run
    now = timezone.now()
    samples = add_sample(run.samples, now, answered - run.in_flight)
    points = add_point(run.progress_points, now, run.processed + answered)
    if ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(
        in_flight=answered, samples=samples, progress_points=points
    ):
        run.in_flight, run.samples, run.progress_points = answered, samples, points
    return run


def take_back_in_flight(run: ResyncRun, token: str) -> ResyncRun:
    """A task that died mid-chunk left its answered offers shown: they go again with the chunk,
    so they are taken back from the page and the plot (not from the counters: never added)."""
    if not run.in_flight:
        return run
    now = timezone.now()
    samples = add_sample(run.samples, now, -run.in_flight)
    points = add_point(run.progress_points, now, run.processed)
    ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(
        in_flight=0, samples=samples, progress_points=points
    )
    run.in_flight, run.samples, run.progress_points = 0, samples, points
    return run


def live_offers(integration_id: int, offer_ids) -> set[int]:
    """Offers of the chunk that still exist and are still active on the integration."""
    return set(
        OfferChannel.objects.filter(
            integration_id=integration_id, offer_id__in=offer_ids, active=True
        ).values_list("offer_id", flat=True)
    )


def clean_text(text: str) -> str:
    # PostgreSQL refuses NUL in text; channels' messages may carry anything, at any length.
    return stored_text(text)


def record(
    run: ResyncRun,
    token: str,
    chunk: Chunk,
    links,
    results,
    *,
    batches: list[ChannelBatch] = (),
    settles: tuple[int, int] | None = None,
    pace: str | None = None,
) -> ResyncRun:
    """Write a chunk's outcome in one transaction: journal rows, failures, counters, cursor.

    A constant number of queries. Offers deleted or deactivated meanwhile are skipped (visited,
    not journaled). A photo hash is written only where the journal still holds the one read
    with the chunk: a forced photo resend (deactivate and re-activate the channel on an offer)
    made meanwhile is not undone. The cursor moves in the same transaction, so a chunk is
    either recorded whole or not at all.

    `batches`: the chunk's asynchronous batches, written with the cursor's move, before any
    is submitted; their offers count as awaiting the channel. `settles=(group, offers)`: the
    outcome of a group of batches the channel reported on; the cursor stays, and the group is
    marked recorded in the same transaction (recorded once, whichever task gets there).
    """
    now = timezone.now()
    by_offer = {link.offer_id: link.offer for link in links}
    integration_id = run.integration_id
    offer_ids = list(by_offer)
    ok_rows, error_rows, failures = [], [], []
    sent = failed = photos = photo_files = transport = 0
    sent_fields = JOURNAL_FIELDS_BY_DATA_TYPES[run.data_types]
    with transaction.atomic():
        if settles is not None and not ChannelBatch.objects.filter(
            run_id=run.pk, group=settles[0], recorded=False
        ).update(recorded=True):
            return run  # another task recorded this group
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
                    "price_sent": result.sent.get("price", offer.price),
                    "currency_sent": result.sent.get("currency", offer.currency),
                    "stock_sent": result.sent.get("stock", offer.stock),
                }
                ok_rows.append((offer.pk, integration_id, *(values[f] for f in sent_fields)))
            else:
                failed += 1
                transport += result.code in ("channel_unavailable", HOST_UNREACHABLE)
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
        if settles:  # a report read is no sign of the channel's silence either way
            silent = run.silent_chunks
        upsert_journal(ok_rows, sent_fields)
        # Newest wins: what changed since the chunk was read goes again, after this send.
        newest.requeue_raced(
            integration_id,
            [by_offer[row[0]] for row in ok_rows],
            run.data_types,
            batches={r.offer_id: r.sent for r in results if r.ok and r.sent},
        )
        upsert_journal(error_rows, JOURNAL_FAILED_FIELDS)
        ResyncFailure.objects.upsert(failures)
        visited = 0 if settles else len(links)
        # The chunk's answered offers were sampled while it went (note_in_flight).
        shown = 0 if settles else run.in_flight
        samples = add_sample(run.samples, now, visited - shown) if visited != shown else run.samples
        points = run.progress_points
        if visited:
            points = add_point(points, now, run.processed + visited)
        # An offer may be in several batches (a price and a quantity command): count it once.
        handed = len({offer for batch in batches for offer in batch.offers})
        awaiting = handed - (settles[1] if settles else 0)
        if batches:
            ChannelBatch.objects.bulk_create(batches)
        fields = {
            "processed": F("processed") + visited,
            "awaiting": F("awaiting") + awaiting,
            "sent": F("sent") + sent,
            "failed": F("failed") + failed,
            "photos_sent": F("photos_sent") + photos,
            "photo_files_sent": F("photo_files_sent") + photo_files,
            "heartbeat_at": now,
            "samples": samples,
            "progress_points": points,
            "silent_chunks": silent,
            "chunk_errors": 0,
            "lease_expires_at": now + timedelta(seconds=lease_seconds()),
        }
        if not settles:
            fields["cursor"] = links[-1].offer_id
            fields["in_flight"] = 0
        if pace is not None:  # why the run goes no faster (ResyncChunks.pace_to_tell)
            fields["pause_reason"] = pace[:300]
        updated = ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(**fields)
        if not updated:
            # Our lease expired and another task took the run: its result wins, ours is undone.
            raise LeaseLost(run.pk)
    if not settles:
        run.cursor = links[-1].offer_id
    run.samples, run.silent_chunks, run.progress_points = samples, silent, points
    run.processed += visited
    if not settles:
        run.in_flight = 0
    run.awaiting += awaiting
    return run


def add_sample(samples: list, now: datetime, offers: int) -> list:
    """Offers per minute for the run's plot: [[unix minute start, offers], …]. A negative
    count takes offers back from the newest minutes (a chunk shown while it went, then cut
    short or lost)."""
    minute = int(now.timestamp()) // 60 * 60
    samples = [list(s) for s in (samples or [])]
    if offers < 0:
        for sample in reversed(samples):
            taken = min(sample[1], -offers)
            sample[1] -= taken
            offers += taken
            if not offers:
                break
        return samples
    if samples and samples[-1][0] == minute:
        samples[-1][1] += offers
    else:
        samples.append([minute, offers])
    return samples[-SAMPLES_KEPT:]


def add_point(points: list, now: datetime, processed: int) -> list:
    """The run's progress to the second, for its pace and time left: [[unix time, offers]]."""
    points = [list(p) for p in (points or [])]
    points.append([round(now.timestamp(), 1), processed])
    return points[-ResyncRun.PROGRESS_POINTS_KEPT :]

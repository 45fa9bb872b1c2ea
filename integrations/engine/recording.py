"""Recording what a run did, under its lease (docs/architecture.md, the engine): the one
place a step writes a run's outcome.

- `under_lease`: the run's conditional UPDATE naming the lease token; another task holding
  the run makes it raise LeaseLost, and the transaction it is in writes nothing.
- `failure`: an offer's failure row (ResyncFailure) from its outcome.
- **One shape of an offer's outcome**: OfferResult (shopconnect/base.py). A batch keeps its
  offers' outcomes as JSON rows (`outcome_row`, read back by `outcome_of`); a drift check's
  failures are OfferResults too.
- `before_first_deferred`: a unit of work is recorded up to the first offer a budget
  deferred; the rest is done again later.
- `record`: a chunk's (or a group of batches') journal rows, failures, counters and cursor in
  one transaction; `hand_on`: a chunk's batches written as its own requests start, and
  `carried_after`: the offers they carry when the chunk is read again;
  `note_in_flight` / `take_back_in_flight`: the progress of a chunk under way.
"""

from datetime import datetime, timedelta
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from integrations.engine.lease_keeper import lease_seconds
from integrations.engine.selection import Chunk
from integrations.engine.skeleton import LeaseLost
from integrations.models import ChannelBatch, ResyncFailure, ResyncRun
from integrations.shopconnect.base import OfferResult, stored_text
from integrations.shopconnect.errors import HOST_UNREACHABLE
from offers import newest
from offers.bulk import rows_source
from offers.models import OfferChannel, SiteJournal
from offers.related import Ids

SAMPLES_KEPT = 2880  # two days of minutes


def under_lease(run: ResyncRun, token: str, *, now: datetime | None = None, **fields) -> None:
    """One conditional UPDATE of the run naming the lease token, which also renews the lease
    and the heartbeat: a task that lost the lease writes nothing (LeaseLost)."""
    now = now or timezone.now()
    updated = ResyncRun.objects.filter(pk=run.pk, lease_token=token).update(
        heartbeat_at=now,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
        chunk_errors=0,
        **fields,
    )
    if not updated:
        raise LeaseLost(run.pk)


def failure(run: ResyncRun, result: OfferResult) -> ResyncFailure:
    """The offer's failure row, from its outcome (words as xSale stores them)."""
    return ResyncFailure(
        run_id=run.pk,
        offer_id=result.offer_id,
        http_status=result.http_status,
        code=stored_text(result.code, 100),
        message=stored_text(result.message),
        attempts=result.attempts,
    )


def outcome_row(result: OfferResult) -> list:
    """An outcome as a batch keeps it (ChannelBatch.results): [ok, code, message, status]."""
    return [result.ok, result.code, result.message, result.http_status]


def outcome_of(offer_id: int, row) -> OfferResult:
    """The outcome a batch kept (`outcome_row`); no row: the report did not mention it."""
    ok, code, message, status = row or [False, "not_reported", "", None]
    return OfferResult(
        offer_id, ok=bool(ok), code=code or "", message=message or "", http_status=status
    )


def before_first_deferred(links, results, deferred) -> tuple[list, list, int | None]:
    """(the links and results before the first deferred offer, that offer or None): what a
    unit of work records when a budget deferred some of its offers (they go again later, from
    the first one on, in offer order)."""
    if not deferred:
        return links, results, None
    first = min(deferred)
    return (
        [link for link in links if link.offer_id < first],
        [r for r in results if r.offer_id < first],
        first,
    )


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


def upsert_journal(rows: list[tuple], fields: tuple[str, ...]) -> None:
    """INSERT … ON CONFLICT (offer, integration) DO UPDATE for a chunk's journal rows.

    One statement for the whole chunk, written by hand: bulk_create's per-value compilation
    cost more than everything else a chunk does in the database. The rows go as
    `offers.bulk.rows_source` makes them (a VALUES list; on PostgreSQL one JSON parameter);
    `rows` are (offer_id, integration_id, *fields) tuples.
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
    source, params = rows_source(
        [SiteJournal._meta.get_field(c) for c in [*columns, *missing]], rows
    )
    # Identifiers and types come from the model, every value is a parameter.
    sql = f"INSERT INTO {table} ({names}) {source} ON CONFLICT (offer_id, integration_id) DO UPDATE SET {updates}"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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
            integration_id=integration_id, offer_id__in=Ids(offer_ids), active=True
        ).values_list("offer_id", flat=True)
    )


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
    # The offers with an outcome (a chunk that goes whole in batches has none yet).
    offer_ids = [r.offer_id for r in results if r.offer_id in by_offer]
    ok_rows, error_rows, failures = [], [], []
    sent = failed = photos = photo_files = transport = 0
    sent_fields = JOURNAL_FIELDS_BY_DATA_TYPES[run.data_types]
    row_of = itemgetter(*sent_fields)  # the journal row's values, in sent_fields' order
    content_sent = "content_hash" in sent_fields
    with transaction.atomic():
        if settles is not None and not ChannelBatch.objects.filter(
            run_id=run.pk, group=settles[0], recorded=False
        ).update(recorded=True):
            return run  # another task recorded this group
        live = live_offers(integration_id, offer_ids)
        journal = SiteJournal.objects.filter(
            integration_id=integration_id, offer_id__in=Ids(offer_ids)
        )
        if connection.features.has_select_for_update:
            journal = journal.select_for_update()
        photos_now = dict(journal.values_list("offer_id", "photos_hash"))
        for result in results:
            offer = by_offer.get(result.offer_id)
            if offer is None or result.offer_id not in live:
                continue
            offer_id = result.offer_id
            read = chunk.journal_photos.get(offer_id, "")
            current = photos_now.get(offer_id, "")
            if result.ok:
                sent += 1
                photos += bool(result.photos_sent)
                photo_files += result.photo_files
                # What reached the channel: as planned for a batch (`sent`), else the offer.
                planned = result.sent
                photos_hash = read
                if result.photos_sent:
                    photos_hash = planned.get("photos_hash") or chunk.photos_hash(offer)
                if current != read:  # changed since the chunk was read: keep the change
                    photos_hash = current
                status = SiteJournal.Status.WARNING if result.message else SiteJournal.Status.OK
                values = {
                    "photos_hash": photos_hash,
                    # A prices-and-stock run leaves the content hash as it was: none computed.
                    "content_hash": (planned.get("content_hash") or offer.content_hash())
                    if content_sent
                    else "",
                    "synced_at": now,
                    "status": status,
                    "message": result.message,  # stored_text already (OfferResult)
                    "price_sent": planned.get("price", offer.price),
                    "currency_sent": planned.get("currency", offer.currency),
                    "stock_sent": planned.get("stock", offer.stock),
                }
                ok_rows.append((offer_id, integration_id, *row_of(values)))
            else:
                failed += 1
                transport += result.code in ("channel_unavailable", HOST_UNREACHABLE)
                failures.append(failure(run, result))
                error_rows.append(
                    (offer_id, integration_id, now, SiteJournal.Status.ERROR, failures[-1].message)
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
            changed_after=chunk.version,
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
        awaiting = write_batches(batches) - (settles[1] if settles else 0)
        fields = {
            "processed": F("processed") + visited,
            "awaiting": F("awaiting") + awaiting,
            "sent": F("sent") + sent,
            "failed": F("failed") + failed,
            "photos_sent": F("photos_sent") + photos,
            "photo_files_sent": F("photo_files_sent") + photo_files,
            "samples": samples,
            "progress_points": points,
            "silent_chunks": silent,
        }
        if not settles:
            fields["cursor"] = links[-1].offer_id
            fields["in_flight"] = 0
        if pace is not None:  # why the run goes no faster (ResyncChunks.pace_to_tell)
            fields["pause_reason"] = pace[:300]
        # Our lease expired and another task took the run: its result wins, ours is undone.
        under_lease(run, token, now=now, **fields)
    if not settles:
        run.cursor = links[-1].offer_id
    run.samples, run.silent_chunks, run.progress_points = samples, silent, points
    run.processed += visited
    if not settles:
        run.in_flight = 0
    run.awaiting += awaiting
    return run


def write_batches(rows: list[ChannelBatch]) -> int:
    """Write a chunk's batches (in the caller's transaction); returns how many offers they
    hand on, each once (an offer may be in a price and a quantity command)."""
    if rows:
        ChannelBatch.objects.bulk_create(rows)
    return len({offer for batch in rows for offer in batch.offers})


def hand_on(run: ResyncRun, token: str, rows: list[ChannelBatch]) -> ResyncRun:
    """Write a chunk's batches as the chunk's own requests start (Allegro's commands beside
    its PATCHes), so that both spend their budgets at once; their offers count as awaiting the
    channel from now on. The chunk is recorded later without them: when it is cut short, or
    its task dies, the offers these batches carry are not planned again (carried_after)
    and their outcome is recorded with their group's, as any batch's."""
    if not rows:
        return run
    with transaction.atomic():
        handed = write_batches(rows)
        under_lease(run, token, awaiting=F("awaiting") + handed)
    run.awaiting += handed
    return run


def carried_after(run_id: int, cursor: int) -> frozenset[int]:
    """Offers the run's batches carry whose chunk is not recorded whole (its group, the
    chunk's last offer, lies after the cursor): a chunk cut short by a deferred offer, or whose
    task died, after its batches were written (`hand_on`). Read again, the chunk does not plan
    them again."""
    rows = ChannelBatch.objects.filter(run_id=run_id, group__gt=cursor).values_list(
        "offers", flat=True
    )
    return frozenset(offer for offers in rows for offer in offers)


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

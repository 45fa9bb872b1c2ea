"""Everyday sync's outbox: every committed change to what a channel shows becomes pending work,
written in the same transaction as the change (docs/architecture.md, "Everyday sync").

One row per (offer, integration, data group) in `PendingChange`: a newer change raises the
row's `version` (the newest value replaces an unsent older one). Versions come from one
database counter (`ChangeCounter`), taken once per transaction under the counter row's lock, so
they follow commit order on every process and machine: never a wall clock.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from offers.bulk import rows_source
from offers.models import ChangeCounter, DataGroup, OfferChannel, PendingChange

GROUPS = tuple(DataGroup.values)
# Which group an offer field belongs to.
FIELD_GROUPS = {
    "stock": DataGroup.STOCK,
    "price": DataGroup.PRICE,
    "currency": DataGroup.PRICE,
    "name": DataGroup.CONTENT,
    "description": DataGroup.CONTENT,
    "ean": DataGroup.CONTENT,
}
ROWS_PER_STATEMENT = 1000


def groups_of_fields(fields: Iterable[str]) -> set[str]:
    return {FIELD_GROUPS[name] for name in fields if name in FIELD_GROUPS}


def next_version() -> int:
    """The next value of the change counter, held (locked) until the caller's transaction ends.
    One statement, whether the counter row exists yet or not (a flushed database)."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    value = connection.ops.quote_name("value")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, {value}) VALUES (1, 1) ON CONFLICT (id) "  # noqa: S608
            f"DO UPDATE SET {value} = {table}.{value} + 1 RETURNING {value}"
        )
        return cursor.fetchone()[0]


def current_version() -> int:
    """The newest version committed (a reader's watermark: every change up to it is visible).
    Read before every resync chunk: one statement as next_version's, not compiled each time."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    value = connection.ops.quote_name("value")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {value} FROM {table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else 0


def record_changes(changes: Iterable[tuple[int, str]]) -> int:
    """(offer id, data group) pairs changed in the caller's transaction: pending work for each
    integration where the offer is active. Returns the rows written."""
    by_offer: dict[int, set[str]] = defaultdict(set)
    for offer_id, group in changes:
        by_offer[offer_id].add(group)
    if not by_offer:
        return 0
    links = OfferChannel.objects.filter(offer_id__in=list(by_offer), active=True).values_list(
        "offer_id", "integration_id"
    )
    return write_pending(
        (offer_id, integration_id, group)
        for offer_id, integration_id in links
        for group in by_offer[offer_id]
    )


def record_link_changes(links: Iterable[tuple[int, int]], groups: Iterable[str] = GROUPS) -> int:
    """(offer id, integration id) links (re-)activated or pointed at another listing: all of
    `groups` pending for them (photos included: the journal forgot their hash)."""
    groups = tuple(groups)
    return write_pending((o, i, g) for o, i in links for g in groups)


def write_pending(rows: Iterable[tuple[int, int, str]]) -> int:
    """Upsert (offer id, integration id, group) rows at a new version, in the caller's
    transaction (one is opened when there is none)."""
    rows = sorted(set(rows))
    if not rows:
        return 0
    with transaction.atomic():
        version = next_version()
        now = timezone.now()  # adapted with the rows (bulk.rows_source)
        quote = connection.ops.quote_name
        table = quote(PendingChange._meta.db_table)
        columns = [
            "offer_id", "integration_id", "group", "version", "sent_version", "generation",
            "pending", "first_changed_at", "changed_at", "attempts", "next_attempt_at",
            "refused", "last_error", "last_code", "claimed_by", "claimed_until", "in_flight",
        ]  # fmt: skip
        names = ", ".join(quote(c) for c in columns)
        pending, first = quote("pending"), quote("first_changed_at")
        refused = f"{table}.{quote('refused')}"
        updates = ", ".join(
            [f"{quote(c)} = excluded.{quote(c)}" for c in ("version", "changed_at", "refused")]
            + [
                # A newer value may pass where the channel refused the older one: it goes now.
                # A channel that failed (down, 5xx, 429) keeps its back-off: a stream of
                # changes must not send at the pace of the changes to a channel that is down.
                f"{quote(c)} = CASE WHEN {refused} THEN excluded.{quote(c)} "
                f"ELSE {table}.{quote(c)} END"
                for c in ("attempts", "next_attempt_at")
            ]
            + [
                # A row already pending keeps the time of its oldest unsent change.
                f"{first} = CASE WHEN {table}.{pending} THEN {table}.{first} "
                f"ELSE excluded.{first} END",
                f"{pending} = excluded.{pending}",
            ]
        )
        conflict = ", ".join(quote(c) for c in ("offer_id", "integration_id", "group"))
        fields = [PendingChange._meta.get_field(c) for c in columns]
        with connection.cursor() as cursor:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                part = [
                    (offer_id, integration_id, group, version, 0, 0, True, now, now, 0, None,
                     False, "", "", "", None, False)
                    for offer_id, integration_id, group in rows[start : start + ROWS_PER_STATEMENT]
                ]  # fmt: skip
                source, params = rows_source(fields, part)
                # Identifiers come from the model, every value is a parameter.
                sql = f"INSERT INTO {table} ({names}) {source} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"  # noqa: S608, E501
                cursor.execute(sql, params)
    return len(rows)


def batch_changes(
    changed_fields: dict, parameter_offers: Iterable[int], photo_offers: Iterable[int]
):
    """The (offer id, group) pairs of an import batch: `changed_fields` {fields: [Offer]}, the
    offers whose parameters changed, and those whose photo set changed."""
    pairs = [
        (offer.pk, group)
        for fields, offers in changed_fields.items()
        for group in groups_of_fields(fields)
        for offer in offers
    ]
    pairs += [(offer_id, DataGroup.CONTENT) for offer_id in parameter_offers]
    pairs += [(offer_id, DataGroup.PHOTOS) for offer_id in photo_offers]
    return pairs

"""A chunk's and a batch group's database work is a constant number of statements, whatever
their size — newest wins' comparison included, when every offer changed while it went."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.engine import resync_chunk
from integrations.engine.resync_chunk import record_group
from integrations.engine.runner import process_chunk
from integrations.models import ChannelBatch, ResyncRun
from integrations.services.runs import start_resync
from offers import outbox
from offers.models import Offer, PendingChange, SiteJournal
from tests.catalogue import make_offers, sandbox_integration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_chunk_per_task", "handed_on")]


def change_stock(offer_ids, stock):
    """A change committed while the run goes, as every change is: with its outbox rows."""
    Offer.objects.filter(pk__in=offer_ids).update(stock=stock)
    outbox.record_changes((offer_id, "stock") for offer_id in offer_ids)


def not_progress(queries) -> list[str]:
    """The statements besides the progress a chunk writes every few seconds while it goes
    (that count follows the chunk's time, not its size)."""
    return [
        q["sql"]
        for q in queries
        if not (q["sql"].startswith("UPDATE") and '"in_flight" =' in q["sql"])
        or '"cursor" =' in q["sql"]
    ]


def test_a_chunk_whose_offers_all_changed_meanwhile_takes_as_many_queries_at_10_as_at_100(
    sandbox, sandbox_account, chunk_size, monkeypatch
):
    original = resync_chunk.items_to_send

    def change_after_the_read(run, chunk, adapter, **kwargs):
        change_stock([link.offer_id for link in chunk.links], 55)
        return original(run, chunk, adapter, **kwargs)

    monkeypatch.setattr(resync_chunk, "items_to_send", change_after_the_read)
    counts = {}
    for size in (10, 100):
        chunk_size("woocommerce", size)
        woo = sandbox_integration(sandbox, f"{sandbox_account}{size}", "woocommerce")
        make_offers(woo, size + 1, prefix=f"R{size}-")
        run = start_resync(woo, user=None, source="cli")
        with CaptureQueriesContext(connection) as queries:
            process_chunk(run.pk, 0)
        run.refresh_from_db()
        assert run.processed == size and run.sent == size
        # The run sent the stock as read: every offer's stock goes again, newer.
        requeued = PendingChange.objects.filter(integration=woo, group="stock", pending=True)
        assert requeued.count() == size
        counts[size] = len(not_progress(queries))
    assert counts[10] == counts[100], counts


def test_a_chunk_nothing_changed_under_reads_no_offer_again(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 5)
    change_stock([o.pk for o in Offer.objects.all()], 9)  # before the run reads them
    run = start_resync(woo, user=None, source="cli")
    with CaptureQueriesContext(connection) as queries:
        process_chunk(run.pk, 0)
    run.refresh_from_db()
    assert run.sent == 5
    offer_table = connection.ops.quote_name(Offer._meta.db_table)
    offer_reads = [q for q in not_progress(queries) if q.startswith(f"SELECT {offer_table}.")]
    assert offer_reads == [], offer_reads
    # Nor the outbox's rows: no change was committed after the read (its version says so).
    pending_table = connection.ops.quote_name(PendingChange._meta.db_table)
    pending_reads = [q for q in not_progress(queries) if f"FROM {pending_table}" in q]
    assert pending_reads == [], pending_reads
    # What was pending before the read stays for the dispatcher, at its version.
    assert PendingChange.objects.filter(integration=woo, pending=True).count() == 5


def a_reported_group(integration, count, prefix) -> tuple[ResyncRun, str, int, list[Offer]]:
    """A prices-and-stock run holding one group of `count` offers in a stock batch the channel
    confirmed, not recorded yet; its token."""
    offers = make_offers(integration, count, prefix=prefix)
    Offer.objects.filter(pk__in=[o.pk for o in offers]).update(stock=3)  # what the batch set
    run = start_resync(integration, user=None, source="cli", data_types="prices_stock")
    token = uuid.uuid4().hex
    ResyncRun.objects.filter(pk=run.pk).update(lease_token=token, status="running", awaiting=count)
    run.refresh_from_db()
    group = offers[-1].pk
    ChannelBatch.objects.create(
        run=run,
        operation="quantity",
        key=uuid.uuid4().hex,
        group=group,
        offers=[o.pk for o in offers],
        changes={"sent": {"stock": 3}},
        status=ChannelBatch.Status.DONE,
        results={str(o.pk): [True, "", "", 200] for o in offers},
    )
    return run, token, group, offers


def test_a_batch_group_is_recorded_in_as_many_queries_at_10_offers_as_at_100(make_integration):
    counts = {}
    for size in (10, 100):
        allegro = make_integration(name=f"Allegro {size}")
        run, token, group, offers = a_reported_group(allegro, size, f"G{size}-")
        # Half the offers changed after the batch was planned: their stock goes again.
        changed = [o.pk for o in offers[::2]]
        change_stock(changed, 40)
        PendingChange.objects.filter(integration=allegro).update(pending=False, sent_version=99)
        with CaptureQueriesContext(connection) as queries:
            record_group(run, token, group)
        run.refresh_from_db()
        assert run.sent == size and run.awaiting == 0
        journal = SiteJournal.objects.filter(integration=allegro)
        assert journal.count() == size and {j.stock_sent for j in journal} == {3}
        requeued = PendingChange.objects.filter(integration=allegro, pending=True)
        assert sorted(requeued.values_list("offer_id", flat=True)) == changed
        counts[size] = len(queries)
    assert counts[10] == counts[100], counts


def test_a_batch_group_records_the_price_it_set(make_integration):
    allegro = make_integration()
    run, token, group, offers = a_reported_group(allegro, 3, "P-")
    ChannelBatch.objects.filter(run=run).update(changes={"sent": {"price": "12.50"}})
    record_group(run, token, group)
    prices = set(
        SiteJournal.objects.filter(integration=allegro).values_list("price_sent", flat=True)
    )
    assert prices == {Decimal("12.50")}


def test_a_batch_group_carrying_its_planned_values_reads_no_photo_nor_parameter_again(
    make_integration,
):
    """A group whose batches carry each offer as planned (`changes["planned"]`) and the
    outbox's version of its chunk's read (`changes["read_version"]`) is recorded without
    reading its offers' photos or parameters, and newest wins reads again only the offer
    changed since."""
    from offers.models import OfferParameter, OfferPhoto

    allegro = make_integration()
    run, token, group, offers = a_reported_group(allegro, 6, "C-")
    read_version = outbox.current_version()
    planned = {
        str(o.pk): {"content_hash": o.content_hash(), "price": str(o.price),
                    "currency": o.currency, "stock": 3}
        for o in offers
    }  # fmt: skip
    ChannelBatch.objects.filter(run=run).update(
        changes={"sent": {"stock": 3}, "planned": planned, "read_version": read_version}
    )
    change_stock([offers[0].pk], 40)  # after the chunk's read: it goes again

    with CaptureQueriesContext(connection) as queries:
        record_group(run, token, group)

    tables = [connection.ops.quote_name(m._meta.db_table) for m in (OfferPhoto, OfferParameter)]
    related_reads = [q["sql"] for q in queries if any(f"FROM {t}" in q["sql"] for t in tables)]
    # Only newest wins' read of the one offer changed since (its photos, its parameters).
    assert len(related_reads) == 2, related_reads
    requeued = PendingChange.objects.filter(integration=allegro, pending=True)
    assert list(requeued.values_list("offer_id", flat=True)) == [offers[0].pk]
    journal = SiteJournal.objects.filter(integration=allegro)
    assert journal.count() == 6 and {j.stock_sent for j in journal} == {3}


@pytest.mark.parametrize("text", ['a "quoted", {braced} \\ message', "NULL", "", "zażółć ∑ 🙂"])
def test_the_journal_upsert_writes_and_rewrites_every_value_as_it_was(make_integration, text):
    from django.utils import timezone

    from integrations.engine.recording import (
        JOURNAL_FAILED_FIELDS,
        JOURNAL_SENT_FIELDS,
        upsert_journal,
    )

    integration = make_integration()
    first, second = make_offers(integration, 2)
    now = timezone.now()
    sent = (
        (
            first.pk,
            integration.pk,
            "p" * 64,
            "c" * 64,
            now,
            "warning",
            text,
            Decimal("12.30"),
            "PLN",
            7,
        ),
        (second.pk, integration.pk, "", "", now, "ok", "", None, "", None),
    )
    upsert_journal(list(sent), JOURNAL_SENT_FIELDS)
    rows = SiteJournal.objects.order_by("offer_id").values_list("offer_id", *JOURNAL_SENT_FIELDS)
    assert [tuple(r) for r in rows] == [(r[0], *r[2:]) for r in sent]

    # A failure rewrites its fields only; a new row gets the defaults of the rest.
    third = make_offers(integration, 1, prefix="NEW-")[0]
    failed = [(o.pk, integration.pk, now, "error", text) for o in (first, third)]
    upsert_journal(failed, JOURNAL_FAILED_FIELDS)
    journal = {j.offer_id: j for j in SiteJournal.objects.all()}
    assert (journal[first.pk].status, journal[first.pk].message) == ("error", text)
    assert (journal[first.pk].price_sent, journal[first.pk].content_hash) == (
        Decimal("12.30"),
        "c" * 64,
    )
    assert (journal[third.pk].photos_hash, journal[third.pk].currency_sent) == ("", "")
    assert journal[third.pk].message == text

    # Stored as the ORM stores the same values: the same text and the same storage types.
    fourth = make_offers(integration, 1, prefix="ORM-")[0]
    SiteJournal.objects.create(
        offer=fourth,
        integration=integration,
        **dict(zip(JOURNAL_SENT_FIELDS, sent[0][2:], strict=True)),
    )
    table = connection.ops.quote_name(SiteJournal._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f) for f in JOURNAL_SENT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT offer_id, {columns} FROM {table} WHERE offer_id IN (%s, %s)",  # noqa: S608
            [first.pk, fourth.pk],
        )
        stored = {row[0]: row[1:] for row in cursor.fetchall()}
    upsert_journal([sent[0]], JOURNAL_SENT_FIELDS)  # `first` again, as sent
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE offer_id = %s",  # noqa: S608
            [first.pk],
        )
        assert cursor.fetchone() == stored[fourth.pk]
        if connection.vendor == "sqlite":
            types = ", ".join(
                f"typeof({connection.ops.quote_name(f)})" for f in JOURNAL_SENT_FIELDS
            )
            cursor.execute(
                f"SELECT offer_id, {types} FROM {table} WHERE offer_id IN (%s, %s)",  # noqa: S608
                [first.pk, fourth.pk],
            )
            kinds = {row[0]: row[1:] for row in cursor.fetchall()}
            assert kinds[first.pk] == kinds[fourth.pk]

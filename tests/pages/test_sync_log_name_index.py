"""The sync log's name search has an index on PostgreSQL (a trigram GIN index of the expression
Django's icontains compares), and the migration that makes it does nothing on SQLite."""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from integrations.pages.sync_log import SyncLogFilter
from offers.models import Offer, SiteJournal

pytestmark = pytest.mark.django_db

MIGRATION = "0004_offer_name_trigram_index_on_postgresql"


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def test_the_migration_applies_on_this_database():
    assert MigrationRecorder.Migration.objects.filter(app="offers", name=MIGRATION).exists()
    names = index_names("offers_offer")
    if connection.vendor == "postgresql":
        assert "offer_name_trgm" in names
    else:
        assert "offer_name_trgm" not in names


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL index")
def test_the_sync_log_name_search_uses_the_trigram_index(make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    offers = Offer.objects.bulk_create(
        Offer(sku=f"S-{n}", name=f"Kubek ceramiczny {n}", price=1) for n in range(300)
    )
    SiteJournal.objects.bulk_create(
        SiteJournal(offer=o, integration=shop, synced_at=timezone.now()) for o in offers
    )
    form = SyncLogFilter({"q": "ceramiczny 12"})
    assert form.is_valid()
    entries = form.filter(SiteJournal.objects.filter(synced_at__isnull=False))
    assert entries.count() == 11  # 12, 120–129
    with connection.cursor() as cursor:
        # A table this small is read whole (or along its primary key) otherwise: ask whether
        # the index can serve the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = entries.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "offer_name_trgm" in plan, plan

"""A chunk's read costs the chunk, not the integration: the keyset walk over an integration's
active links (selection.run_links, offer > cursor, LIMIT) is served in offer order by the
partial index offerchannel_active_walk, on SQLite as on PostgreSQL. Django writes
`active=True` as a bare `"active"`, which SQLite could not match to an (integration, active,
offer) index: every chunk read every link of the integration and sorted them."""

import pytest
from django.db import connection

from integrations.engine import selection
from integrations.models import Integration, ResyncRun
from offers.models import OfferChannel
from tests.catalogue import make_offers

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(row[3] for row in cursor.fetchall())
        # Tables this small read whole are cheaper: ask whether the index can serve it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("cursor_at", [None, 7])
def test_a_chunk_read_walks_the_active_links_index_in_order_without_sorting(cursor_at):
    integration = Integration.objects.create(
        name="shop",
        channel="woocommerce",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        api_url="https://shop.example.com",
    )
    offers = make_offers(integration, 30)
    OfferChannel.objects.filter(offer=offers[3]).update(active=False)
    after = 0 if cursor_at is None else offers[cursor_at].pk
    run = ResyncRun.objects.create(integration=integration, last_offer_id=offers[-1].pk)
    links = selection.run_links(run).filter(offer_id__gt=after).order_by("offer_id")[:10]

    shown = plan(links)
    assert "offerchannel_active_walk" in shown
    if connection.vendor == "sqlite":
        assert "TEMP B-TREE" not in shown
        assert "offer_id>?" in shown
    else:
        assert "Sort" not in shown
    chunk = selection.load_chunk(run, after, 10)
    expected = [o.pk for o in offers if o.pk > after and o != offers[3]][:10]
    assert [link.offer_id for link in chunk.links] == expected

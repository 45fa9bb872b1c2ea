"""Zalando's everyday sync: a stock change goes in the stocks batch, a price change in the
prices batch, each alone (docs/architecture.md, "Everyday sync"); content and photos go as a
resync sends them (the product submission)."""

from functools import partial

from integrations.saleschannels.zalando.adapter import ZalandoAdapter, chunks, merge_results
from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.changes import CONTENT_GROUPS, send_jobs
from integrations.shopconnect.common import OfferSnapshot


def send_changes(
    adapter: ZalandoAdapter, groups: frozenset[str], items: list[OfferToSend], deadline
) -> list[OfferResult]:
    if groups & CONTENT_GROUPS:
        return adapter.send_by_flags(groups, items, deadline=deadline)
    snapshots_sent: list[OfferSnapshot] = []

    def jobs(snapshots: list[OfferSnapshot]):
        snapshots_sent.extend(snapshots)
        out = []
        for batch in chunks(snapshots, adapter.bulk_size()):
            ids = [snap.offer_id for snap in batch]
            if "price" in groups:
                out.append((ids, partial(adapter.send_prices, batch)))
            if "stock" in groups:
                out.append((ids, partial(adapter.send_stocks, batch)))
        return out

    results = send_jobs(adapter, items, deadline, jobs)
    sent_ids = {snap.offer_id for snap in snapshots_sent}
    refused = [r for r in results if r.offer_id not in sent_ids]
    # One result per offer: ok unless its price or stock batch refused it.
    accepted = [OfferResult(offer_id, ok=True, attempts=0) for offer_id in sorted(sent_ids)]
    bulk = [r for r in results if r.offer_id in sent_ids]
    return refused + merge_results(accepted, bulk)

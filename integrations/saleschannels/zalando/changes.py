"""Zalando's everyday sync: a stock change goes in the stocks batch, a price change in the
prices batch, each alone (docs/architecture.md, "Everyday sync"); content and photos go as a
resync sends them (the product submission)."""

from functools import partial

from integrations.saleschannels.zalando.adapter import ZalandoAdapter, chunks, merge_results
from integrations.shopconnect.base import OfferResult
from integrations.shopconnect.changes import sender
from integrations.shopconnect.common import OfferSnapshot


def jobs(adapter: ZalandoAdapter, groups: frozenset[str], snapshots: list[OfferSnapshot]):
    out = []
    for batch in chunks(snapshots, adapter.bulk_size()):
        ids = [snap.offer_id for snap in batch]
        if "price" in groups:
            out.append((ids, partial(adapter.send_prices, batch)))
        if "stock" in groups:
            out.append((ids, partial(adapter.send_stocks, batch)))
    return out


def one_per_offer(results: list[OfferResult], snapshots: list[OfferSnapshot]):
    """One result per offer: ok unless its price or stock batch refused it."""
    sent_ids = {snap.offer_id for snap in snapshots}
    refused = [r for r in results if r.offer_id not in sent_ids]
    accepted = [OfferResult(offer_id, ok=True, attempts=0) for offer_id in sorted(sent_ids)]
    return refused + merge_results(accepted, [r for r in results if r.offer_id in sent_ids])


send_changes = sender(jobs, one_per_offer)

"""What the channels' everyday-sync sends share (saleschannels/<channel>/changes.py): offers
narrowed to prices and stock, sent by jobs of the channel's own through the adapter's pool."""

import contextvars
from collections.abc import Callable
from functools import partial

from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.common import HttpChannelAdapter, OfferSnapshot

CONTENT_GROUPS = frozenset({"content", "photos"})


def prices_stock_only(item: OfferToSend) -> OfferToSend:
    """The item with prices and stock only: never content, never photos."""
    return OfferToSend(
        offer=item.offer,
        link=item.link,
        send_photos=False,
        send_content=False,
        send_prices_stock=True,
    )


def send_jobs(
    adapter: HttpChannelAdapter,
    items: list[OfferToSend],
    deadline: float | None,
    jobs_for: Callable[[list[OfferSnapshot]], list],
) -> list[OfferResult]:
    """Like `HttpChannelAdapter.send`, with the jobs `jobs_for(snapshots)` makes: credentials
    and URLs checked, the deadline set, each offer's listing named (an offer naming none
    fails), the jobs run through `run_parallel`, refreshed tokens written back."""
    adapter.answered_offers = set()
    adapter.check_credentials()
    adapter.client.start_chunk(deadline)
    ready, refused = adapter.keyed([adapter.snapshot(prices_stock_only(item)) for item in items])
    # Each job in a copy of this context: the budget priority (budgets.spending_as) the
    # dispatcher set reaches the pool's threads.
    jobs = [(ids, partial(contextvars.copy_context().run, job)) for ids, job in jobs_for(ready)]
    try:
        return refused + adapter.run_parallel(jobs)
    finally:
        adapter.store_new_credentials()

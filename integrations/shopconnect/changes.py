"""What the channels' everyday-sync sends share (saleschannels/<channel>/changes.py): offers
narrowed to prices and stock, sent by jobs of the channel's own through the adapter's pool."""

from collections.abc import Callable

from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.common import HttpChannelAdapter, OfferSnapshot
from integrations.shopconnect.pacing import LISTENER

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
    on_answer: Callable | None = None,
) -> list[OfferResult]:
    """Like `HttpChannelAdapter.send`, with the jobs `jobs_for(snapshots)` makes: credentials
    and URLs checked, the deadline set, each offer's listing named (an offer naming none
    fails), the jobs run through `run_parallel` (`on_answer` hears each offer's results once
    all its jobs answered), refreshed tokens written back."""
    adapter.answered_offers = set()
    adapter.check_credentials()
    adapter.client.start_chunk(deadline)
    ready, refused = adapter.keyed([adapter.snapshot(prices_stock_only(item)) for item in items])
    try:
        # run_parallel runs each job in a copy of this context: the dispatcher's budget
        # priority (budgets.spending_as) reaches the pool's threads.
        return refused + adapter.run_parallel(jobs_for(ready), on_answer=on_answer)
    finally:
        adapter.store_new_credentials()


def sender(jobs_for: Callable, finish: Callable | None = None) -> Callable:
    """A channel's `send_changes` (its descriptor's `changes`) from its jobs: content or photos
    go as `send` sends them; a price or stock change by `jobs_for(adapter, groups, snapshots)`
    -> [(offer ids, job)], whose results `finish(results, snapshots)` may merge to one per
    offer."""

    def send_changes(adapter, groups: frozenset[str], items: list[OfferToSend], deadline):
        if groups & CONTENT_GROUPS:
            return adapter.send_by_flags(groups, items, deadline=deadline)
        sent: list[OfferSnapshot] = []
        listener = LISTENER.get()

        def jobs(snapshots):
            sent.extend(snapshots)
            return jobs_for(adapter, groups, snapshots)

        def heard(results):
            if finish:
                offers = {r.offer_id for r in results}
                results = finish(results, [s for s in sent if s.offer_id in offers])
            listener(results)

        results = send_jobs(adapter, items, deadline, jobs, heard if listener else None)
        return finish(results, sent) if finish else results

    return send_changes

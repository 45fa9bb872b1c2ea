"""Everyday changes that go as asynchronous batches: "submitted, awaiting confirmation"
(docs/architecture.md, "Everyday sync"; Mirakl's imports, Allegro's change commands).

A channel whose adapter names the budgets a batch of a data group spends
(`ChannelAdapter.change_batch_budgets`) gets its changes by the engine's asynchronous protocol
(engine/batches.py) instead of `send_changes`. In the dispatcher's round:

1. `advance` submits the batches written and reads the reports that are due — the resync's
   protocol: a batch is written before it is sent, a batch "sent, answer not kept" (a lost
   answer, a kill) is found again through the channel's list of its imports, never sent twice —
   then records each finished group as the dispatcher records a send (`dispatch.record`, handed
   in): confirmations at the version and generation claimed, the site journal with the values
   the batch carried, deliveries (freshness), refusals with the channel's words, retries.
2. `waiting_groups`: a data group whose batch cannot go now (a budget without room, or a batch
   of it written and not yet registered) is not claimed. It stays pending, so what arrives
   within a budget's window goes in the next batch: one import per call type per window.
3. `chosen`: of the claimed offers whose groups all go as batches, those the adapter sends as
   batches (`changes_in_batches`; Allegro: offers sharing a value with enough others); the
   dispatcher sends the others by `send_changes` in the round.
4. `submit`: the claimed offers planned by the adapter (`plan_change_batches`) become the
   group's batches, written in one transaction with the rows' claims, which move to the
   group's own token until it is recorded; then they are submitted at once (`advance`).

Newest wins as for every send: a row changed again while its batch is in flight stays claimed
(not due) and pending; the record confirms the version claimed, so the row goes again, with the
newer value, once the batch is recorded. A resync that re-queued the row meanwhile moved its
generation: the record makes it pending again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.engine import batches
from integrations.models import ChannelBatch
from integrations.shopconnect import budgets
from integrations.shopconnect.base import ChannelAuthError, OfferToSend
from integrations.shopconnect.http import Held
from offers.models import DataGroup, PendingChange, SiteJournal

logger = logging.getLogger("integrations.sync")

CONTENT = frozenset({DataGroup.CONTENT, DataGroup.PHOTOS})
PRICES_STOCK = frozenset({DataGroup.PRICE, DataGroup.STOCK})
# A batch's rows stay claimed until it is recorded: its wait for a report and this margin.
CLAIM_MARGIN = timedelta(minutes=10)
# A batch whose answer could not be written (an unexpected error) is looked at again after this.
LOOK_AGAIN = timedelta(seconds=60)


def batched_groups(adapter) -> frozenset[str]:
    """The data groups whose changes go as batches on this adapter's channel."""
    return frozenset(g for g in DataGroup.values if adapter.change_batch_budgets(g) is not None)


def everyday(integration_id: int):
    return ChannelBatch.objects.filter(integration_id=integration_id, run__isnull=True)


def has_work(integration_id: int) -> bool:
    """Batches due to be submitted or read, or finished ones not recorded yet."""
    now = timezone.now()
    rows = everyday(integration_id)
    outstanding = rows.filter(status__in=batches.OUTSTANDING)
    if outstanding.filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)).exists():
        return True
    finished = rows.filter(status__in=ChannelBatch.FINISHED, recorded=False)
    return finished.exclude(group__in=outstanding.values("group")).exists()


def waiting_groups(integration, adapter, batched: frozenset[str]) -> set[str]:
    """The batched groups that cannot go now: one of their budgets has no room yet, or a batch
    carrying them is written and not registered (it goes first)."""
    unsent = everyday(integration.pk).filter(status=ChannelBatch.Status.PREPARED)
    waiting = {g for sends in unsent.values_list("changes__sends", flat=True) for g in sends}
    known = adapter.budgets()
    for group in batched - waiting:
        spends = [(known[name], 1) for name in adapter.change_batch_budgets(group) if name in known]
        # A peek names the budget that sets a wait (None: room now).
        if budgets.peek(spends, priority=budgets.Priority.STOCK).budget is not None:
            waiting.add(group)
    return waiting


@dataclass
class AsCarried:
    """An offer as its batch carried it (the batch's `planned` values), for the record: the
    site journal keeps what was sent, never what the offer became meanwhile."""

    pk: int
    stock: int
    price: Decimal
    currency: str
    content: str
    photos: str

    def content_hash(self) -> str:
        return self.content

    def photos_hash(self) -> str:
        return self.photos


def changes_of(plans) -> list[tuple[frozenset, OfferToSend]]:
    """The adapter's view of the dispatcher's Planned: the groups each offer changes, its item."""
    return [
        (
            p.groups,
            OfferToSend(
                offer=p.offer,
                link=p.link,
                send_photos=p.send_photos,
                send_content=bool(p.groups & CONTENT),
                send_prices_stock=bool(p.groups & PRICES_STOCK),
            ),
        )
        for p in plans
    ]


def chosen(adapter, plans) -> set[int]:
    """Of the Planned whose groups all go as batches, the offers that do (the adapter's
    `changes_in_batches`); the others go by `send_changes`."""
    return adapter.changes_in_batches(changes_of(plans)) if plans else set()


def submit(integration, adapter, token: str, plans, journal, outcome, *, record, deadline):
    """Write the claimed offers' batches (`plans`: the dispatcher's Planned) with their rows'
    claims, then submit them; offers the adapter refused before any request are recorded."""
    by_offer = {p.offer.pk: p for p in plans}
    refused, planned = adapter.plan_change_batches(changes_of(plans))
    if refused:
        record(integration, token, [by_offer[r.offer_id] for r in refused], refused, journal,
               outcome, None)  # fmt: skip
    claim = uuid.uuid4().hex
    chunk = SimpleNamespace(
        links=[SimpleNamespace(offer_id=p.offer.pk, offer=p.offer) for p in plans],
        journal_photos={},
    )
    rows = batches.prepared(
        None, planned, int(time.time() * 1000), chunk, integration_id=integration.pk
    )
    carried: list[int] = []
    for batch in rows:
        carries = batch.changes.pop("carries")
        batch.changes["claim"] = claim
        batch.changes["sends"] = sorted({g for groups in carries.values() for g in groups})
        batch.changes["rows"] = {
            offer_id: [
                [r.pk, r.group, r.version, r.generation]
                for r in by_offer[int(offer_id)].rows
                if r.group in groups
            ]
            for offer_id, groups in carries.items()
        }
        carried += [row[0] for entries in batch.changes["rows"].values() for row in entries]
    if not rows:
        return
    until = timezone.now() + timedelta(seconds=batches.wait_seconds()) + CLAIM_MARGIN
    with transaction.atomic():
        ChannelBatch.objects.bulk_create(rows)
        PendingChange.objects.filter(pk__in=carried, claimed_by=token).update(
            claimed_by=claim, claimed_until=until
        )
    outcome.awaiting += len({o for batch in rows for o in batch.offers})
    advance(integration, adapter, outcome, record=record, planned=type(plans[0]),
            deadline=deadline)  # fmt: skip


def advance(integration, adapter, outcome, *, record, planned, deadline) -> None:
    """Submit the batches due, read the reports due (a budget that holds an operation holds
    its other batches too, until then), and record the groups whose batches all finished."""
    now = timezone.now()
    due = list(
        everyday(integration.pk)
        .filter(status__in=batches.OUTSTANDING)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        .order_by("pk")[: batches.LANE_ROWS]
    )
    if due:
        held: dict[str, float] = {}
        try:
            adapter.begin_batches(deadline)
        except ChannelAuthError as exc:  # a URL or a secret the rules refuse: nothing goes
            logger.warning("integration %s: batches of changes wait: %s", integration.pk, exc)
            for batch in due:
                _look_at(batch, timezone.now() + LOOK_AGAIN)
            due = []
        try:
            for batch in due:
                lane = batch.operation if batch.status == ChannelBatch.Status.PREPARED else "."
                if lane in held:
                    _look_at(batch, datetime.fromtimestamp(held[lane], tz=UTC))
                    continue
                answer = batches.ask(adapter, batch)
                if isinstance(answer, Held):
                    held[lane] = max(answer.until, time.time() + 1)
                    _look_at(batch, datetime.fromtimestamp(held[lane], tz=UTC))
                    continue
                try:
                    batches.take(batch, adapter, answer)
                except Exception:
                    logger.exception("integration %s: batch %s", integration.pk, batch.key)
                    _look_at(batch, timezone.now() + LOOK_AGAIN)
        finally:
            adapter.store_new_credentials()
    record_finished(integration, outcome, record=record, planned=planned)


def _look_at(batch: ChannelBatch, at: datetime) -> None:
    ChannelBatch.objects.filter(pk=batch.pk, status=batch.status).update(next_check_at=at)


def record_finished(integration, outcome, *, record, planned) -> None:
    """Each group whose batches all finished, recorded once (as the dispatcher records a
    send) in one transaction with its `recorded` mark."""
    rows = everyday(integration.pk)
    finished = rows.filter(status__in=ChannelBatch.FINISHED, recorded=False)
    open_groups = set(rows.filter(status__in=batches.OUTSTANDING).values_list("group", flat=True))
    for group in sorted(set(finished.values_list("group", flat=True)) - open_groups):
        group_batches = rows.filter(group=group)
        with transaction.atomic():
            # The mark first, from the state read: a second dispatcher records nothing twice.
            if not group_batches.filter(recorded=False).update(recorded=True):
                continue
            _record_group(integration, group_batches, outcome, record, planned)


def _record_group(integration, group_batches, outcome, record, planned) -> None:
    results, _journal_photos = batches.results_of(group_batches)
    claimed: dict[int, tuple] = {}
    carried: dict[int, set] = defaultdict(set)
    values: dict[int, dict] = defaultdict(dict)
    claim = ""
    for batch in group_batches:
        claim = batch.changes["claim"]
        for offer_id, entries in batch.changes["rows"].items():
            for pk, group, version, generation in entries:
                claimed[pk] = (int(offer_id), version, generation)
                carried[int(offer_id)].add(group)
        for offer_id, planned_values in batch.changes.get("planned", {}).items():
            values[int(offer_id)].update(planned_values)
    by_offer = defaultdict(list)
    for row in PendingChange.objects.filter(pk__in=list(claimed)):
        offer_id, row.version, row.generation = claimed[row.pk]
        by_offer[offer_id].append(row)
    journal = {
        j.offer_id: j
        for j in SiteJournal.objects.filter(integration_id=integration.pk, offer_id__in=by_offer)
    }
    plans = []
    for offer_id, offer_rows in by_offer.items():
        sent = values[offer_id]
        offer = AsCarried(
            pk=offer_id,
            stock=int(sent.get("stock", 0)),
            price=Decimal(str(sent.get("price", "0"))),
            currency=sent.get("currency", ""),
            content=sent.get("content_hash", ""),
            photos=sent.get("photos_hash", ""),
        )
        groups = frozenset(carried[offer_id])
        plans.append(planned(offer, None, offer_rows, groups, DataGroup.PHOTOS in groups))
    reported = [results[p.offer.pk] for p in plans if p.offer.pk in results]
    record(integration, claim, plans, reported, journal, outcome, None)
    # What the record did not settle (a row a resync re-queued meanwhile is pending again,
    # still under this claim) is free for the next round at once.
    PendingChange.objects.filter(pk__in=list(claimed), claimed_by=claim).update(
        claimed_by="", claimed_until=None
    )

"""Everyday sync's dispatcher: pending changes of one integration, sent by its adapter's
`send_changes` and accounted for (docs/architecture.md, "Everyday sync").

One `dispatch(integration_id)` call: claim a bounded set of pending rows, read the offers
(after the rows: what is sent is at least as new as the versions claimed), settle the rows a
dead round left in flight by reading the channel (doubt.py), mark the rows in flight, send them
grouped by what arrives together under the group's budget priority, and record each answer as
it arrives (the site journal, the confirmed versions, the deliveries: freshness); refusals,
retries and deferrals when the send ends.

Newest wins: a row is confirmed only at the version and generation it was claimed with, and
only by the claim that sent it; anything else (a resync re-queued it meanwhile, another
dispatcher took the claim over) makes it pending again, so the newest value goes last.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, Q, Value, When
from django.utils import timezone

from integrations.engine import store as engine_store
from integrations.models import Integration
from integrations.shopconnect import budgets
from integrations.shopconnect.base import (
    ChannelAuthError,
    OfferResult,
    OfferToSend,
    stored_text,
)
from integrations.shopconnect.common import SEND_BROKE
from integrations.shopconnect.http import HOST_UNREACHABLE, UNBOUNDED, ChannelUnavailable, Held
from integrations.sync import awaiting, doubt, guard
from integrations.wording import Reason
from offers.models import (
    ChangeDelivery,
    DataGroup,
    Offer,
    OfferChannel,
    PendingChange,
    SiteJournal,
)

logger = logging.getLogger("integrations.sync")

GROUP_PRIORITY = {
    DataGroup.STOCK: budgets.Priority.STOCK,
    DataGroup.PRICE: budgets.Priority.PRICE,
    DataGroup.CONTENT: budgets.Priority.CONTENT,
    DataGroup.PHOTOS: budgets.Priority.CONTENT,
}
# Codes of a transient failure (the channel did not answer usefully): retried with back-off.
TRANSIENT_CODES = {"channel_unavailable", HOST_UNREACHABLE, UNBOUNDED, "internal_error"}
NO_ANSWER = Reason("The channel's adapter said nothing of this offer: it goes again.")


def backoff(attempts: int) -> float:
    """Seconds before the next attempt of a transiently failed change: 2, 4, 8 … at most
    SYNC_MAX_BACKOFF_SECONDS (300)."""
    return min(2.0 ** max(attempts, 1), settings.SYNC_MAX_BACKOFF_SECONDS)


def due(integration_id: int | None = None, now=None):
    """Pending rows a dispatcher may take now: of an active integration that syncs changes,
    not refused, not waiting for a retry, not claimed."""
    now = now or timezone.now()
    rows = PendingChange.objects.filter(
        pending=True,
        refused=False,
        integration__active=True,
        integration__sync_changes=True,
    ).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
    )
    if integration_id is not None:
        rows = rows.filter(integration_id=integration_id)
    return rows


def integrations_due() -> list[int]:
    """Integrations with due changes or batches of changes (awaiting.py): indexed looks per
    integration that syncs (a handful), never a scan of the whole outbox."""
    switched_on = Integration.objects.filter(active=True, sync_changes=True).order_by("pk")
    return [
        pk
        for pk in switched_on.values_list("pk", flat=True)
        if due(pk).exists() or awaiting.has_work(pk)
    ]


def claim(integration_id: int, held_groups: set[str], limit: int) -> tuple[str, list]:
    """Take up to `limit` due rows: stock first, then price, content, photos; oldest first in
    each (one index range per group: pending_work)."""
    now = timezone.now()
    candidates: list[int] = []
    for group in GROUP_PRIORITY:
        if group in held_groups or len(candidates) >= limit:
            continue
        candidates += (
            due(integration_id, now)
            .filter(group=group)
            .order_by("first_changed_at", "pk")
            .values_list("pk", flat=True)[: limit - len(candidates)]
        )
    if not candidates:
        return "", []
    token = uuid.uuid4().hex
    PendingChange.objects.filter(pk__in=candidates).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ).update(claimed_by=token, claimed_until=now + timedelta(seconds=settings.SYNC_CLAIM_SECONDS))
    return token, list(PendingChange.objects.filter(pk__in=candidates, claimed_by=token))


@dataclass
class Outcome:
    sends: int = 0  # sends made (adapter.send_changes calls)
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    dropped: int = 0
    awaiting: int = 0  # offers submitted in batches, confirmed when the channel reports
    held: bool = False
    results: list = field(default_factory=list)


@dataclass
class Planned:
    """What goes for one offer: its claimed rows and what the send carries."""

    offer: Offer
    link: OfferChannel
    rows: list
    groups: frozenset
    send_photos: bool

    def part(self, rows) -> Planned:
        """The same offer with only these rows (the part the channel holds, or the rest)."""
        groups = frozenset(r.group for r in rows)
        return Planned(self.offer, self.link, rows, groups, self.send_photos and "photos" in groups)


def dispatch(integration_id: int, *, limit: int | None = None) -> Outcome:
    """One round for one integration (see the module's docstring)."""
    outcome = Outcome()
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None or not integration.active or not integration.sync_changes:
        return outcome
    held_groups = guard.held_groups(integration)
    outcome.held = bool(held_groups)
    adapter = engine_store.adapter_for(integration)
    batched = awaiting.batched_groups(adapter)
    if batched:  # changes that go as asynchronous batches: awaiting.py
        deadline = time.monotonic() + settings.SYNC_SEND_SECONDS
        awaiting.advance(integration, adapter, outcome, record=record, planned=Planned,
                         deadline=deadline)  # fmt: skip
        held_groups = held_groups | awaiting.waiting_groups(integration, adapter, batched)
        limit = limit or max(settings.SYNC_BATCH_ROWS, integration.facts.batch_size)
    token, rows = claim(integration_id, held_groups, limit or settings.SYNC_BATCH_ROWS)
    if not rows:
        return outcome
    try:
        plans, journal = plan(integration, token, rows, outcome)
        plans, held, _read = doubt.settle(adapter, plans, lambda g: GROUP_PRIORITY[g])
        if held:  # the channel holds what a dead round sent: confirmed without a request
            record(integration, token, held, doubt.confirmed_by_read(held), journal, outcome)
        doubt.mark_in_flight(token, plans)
        by_key: dict[tuple, list[Planned]] = defaultdict(list)
        for planned in plans:
            zero = DataGroup.STOCK in planned.groups and planned.offer.stock <= 0
            by_key[(planned.groups, zero)].append(planned)
        chosen = awaiting.chosen(adapter, [p for p in plans if p.groups <= batched])
        in_batches = []
        for (groups, zero), group_plans in sorted(by_key.items(), key=_send_order):
            in_batches += [p for p in group_plans if p.offer.pk in chosen]
            group_plans = [p for p in group_plans if p.offer.pk not in chosen]
            if not group_plans:
                continue
            recorded: set[int] = set()

            def heard(results, group_plans=group_plans, recorded=recorded):
                # Each confirmation as its answer arrives: a kill now leaves in doubt only
                # the requests cut mid-flight. Failures wait for the send's end (`until`).
                confirmed = [r for r in results if r.ok and r.offer_id not in recorded]
                record(integration, token, group_plans, confirmed, journal, outcome)
                recorded.update(r.offer_id for r in confirmed)

            results, until = send(adapter, groups, zero, group_plans, heard)
            outcome.sends += 1
            rest = [r for r in results if r.offer_id not in recorded]
            record(integration, token, group_plans, rest, journal, outcome, until)
        if in_batches:
            deadline = time.monotonic() + settings.SYNC_SEND_SECONDS
            awaiting.submit(integration, adapter, token, in_batches, journal, outcome,
                            record=record, deadline=deadline)  # fmt: skip
    finally:
        # Whatever was not recorded (an error on the way) goes back to the queue at once,
        # still in flight: the next round reads the channel before sending it again.
        PendingChange.objects.filter(pk__in=[r.pk for r in rows], claimed_by=token).update(
            claimed_by="", claimed_until=None
        )
        connection.close_if_unusable_or_obsolete()
    return outcome


def _send_order(entry):
    (groups, zero), _plans = entry
    return (not zero, min(int(GROUP_PRIORITY[g]) for g in groups), sorted(groups))


def plan(integration, token: str, rows, outcome: Outcome):
    """Read the offers of the claimed rows (after claiming them), their links and journal rows;
    rows of offers no longer active on the integration are done (an activation queues all)."""
    by_offer = defaultdict(list)
    for row in rows:
        by_offer[row.offer_id].append(row)
    offers = {
        o.pk: o
        for o in Offer.objects.filter(pk__in=list(by_offer)).prefetch_related(
            "photos", "parameters"
        )
    }
    links = {
        link.offer_id: link
        for link in OfferChannel.objects.filter(
            integration_id=integration.pk, offer_id__in=list(by_offer), active=True
        )
    }
    journal = {
        j.offer_id: j
        for j in SiteJournal.objects.filter(
            integration_id=integration.pk, offer_id__in=list(by_offer)
        )
    }
    plans, gone = [], []
    for offer_id, offer_rows in by_offer.items():
        offer, link = offers.get(offer_id), links.get(offer_id)
        if offer is None or link is None:
            gone += offer_rows
            continue
        groups = {row.group for row in offer_rows}
        send_photos = False
        if DataGroup.PHOTOS in groups:
            entry = journal.get(offer_id)
            send_photos = offer.photos_hash() != (entry.photos_hash if entry else "")
            if not send_photos and groups == {DataGroup.PHOTOS}:
                # The channel holds this photo set already: nothing to send.
                confirm(token, offer_rows)
                outcome.dropped += len(offer_rows)
                continue
        plans.append(Planned(offer, link, offer_rows, frozenset(groups), send_photos))
    if gone:
        PendingChange.objects.filter(pk__in=[r.pk for r in gone]).delete()
        outcome.dropped += len(gone)
    return plans, journal


def send(adapter, groups: frozenset, zero: bool, plans: list[Planned], on_answer=None):
    """One send of offers that change the same groups, under the groups' budget priority:
    (results, until when a budget defers the rest or None). `on_answer(results)` hears
    offers' results as their answers arrive (ChannelAdapter.send_changes)."""
    priority = budgets.Priority.ZERO_STOCK if zero else min(GROUP_PRIORITY[g] for g in groups)
    items = [OfferToSend(offer=p.offer, link=p.link, send_photos=p.send_photos) for p in plans]
    deadline = time.monotonic() + settings.SYNC_SEND_SECONDS
    try:
        with budgets.spending_as(priority):
            results = list(
                adapter.send_changes(groups, items, deadline=deadline, on_answer=on_answer)
            )
    except Held as exc:  # before any offer went (Allegro's "who is the seller" read)
        return [OfferResult(p.offer.pk, ok=False, deferred=True, attempts=0) for p in plans], (
            exc.until
        )
    except (ChannelAuthError, ChannelUnavailable) as exc:
        # Retried with back-off, with the reason a seller reads on the integration page.
        code = getattr(exc, "code", "channel_unavailable")
        status = getattr(exc, "http_status", None)  # None: no answer, maybe landed
        return [
            OfferResult(p.offer.pk, ok=False, code=code, message=str(exc), http_status=status)
            for p in plans
        ], None
    except Exception as exc:
        logger.exception("integration %s: an everyday send broke", adapter.integration.pk)
        return [
            OfferResult(
                p.offer.pk,
                ok=False,
                code="internal_error",
                message=SEND_BROKE(error=type(exc).__name__),
            )
            for p in plans
        ], None
    until = getattr(adapter.held, "until", None)
    answered = {r.offer_id for r in results}
    # Nothing is dropped silently: an offer the adapter said nothing of is tried again.
    results += [
        OfferResult(p.offer.pk, ok=False, code="internal_error", message=NO_ANSWER())
        for p in plans
        if p.offer.pk not in answered
    ]
    return results, until


def confirm(token: str, rows) -> set[int]:
    """Mark `rows` sent at the version and generation they were claimed with, where this claim
    still holds them; returns the pks confirmed. The others are pending again."""
    done = set()
    by_state = defaultdict(list)
    for row in rows:
        by_state[(row.version, row.generation)].append(row.pk)
    for (version, generation), pks in by_state.items():
        confirmed = PendingChange.objects.filter(
            pk__in=pks, claimed_by=token, generation=generation
        )
        ids = set(confirmed.values_list("pk", flat=True))
        PendingChange.objects.filter(pk__in=ids).update(
            sent_version=version,
            pending=Case(
                When(version__gt=version, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            attempts=0,
            refused=False,
            last_error="",
            last_code="",
            next_attempt_at=None,
            claimed_by="",
            claimed_until=None,
            in_flight=False,
        )
        done |= ids
    lost = [row.pk for row in rows if row.pk not in done]
    if lost:
        requeue(lost)
    return done


def requeue(pks) -> None:
    """Pending again (a send that may have landed after a newer one goes again)."""
    PendingChange.objects.filter(pk__in=pks).update(
        generation=F("generation") + 1,
        sent_version=0,
        pending=True,
        refused=False,
        next_attempt_at=None,
    )


JOURNAL_FIELDS = {
    DataGroup.STOCK: ("stock_sent",),
    DataGroup.PRICE: ("price_sent", "currency_sent"),
    DataGroup.CONTENT: ("content_hash",),
    DataGroup.PHOTOS: ("photos_hash",),
}


def record(integration, token, plans, results, journal, outcome: Outcome, until=None) -> None:
    """Results of a send in one transaction: journal, confirmations, deliveries, failures."""
    if not results:
        return
    now = timezone.now()
    by_offer = {p.offer.pk: p for p in plans}
    sent_rows, deliveries, journal_rows = [], [], defaultdict(list)
    with transaction.atomic():
        for result in results:
            planned = by_offer.get(result.offer_id)
            if planned is None:
                continue
            offer, rows = planned.offer, planned.rows
            outcome.results.append(result)
            if result.ok:
                outcome.sent += 1
                sent_rows += rows
                entry = journal.get(offer.pk)
                groups = set(planned.groups)
                if not result.photos_sent:
                    groups.discard(DataGroup.PHOTOS)
                values = {
                    "stock_sent": offer.stock,
                    "price_sent": offer.price,
                    "currency_sent": offer.currency,
                    "content_hash": offer.content_hash(),
                    "photos_hash": offer.photos_hash(),
                }
                fields = tuple(sorted(f for g in groups for f in JOURNAL_FIELDS[g]))
                status = SiteJournal.Status.WARNING if result.message else SiteJournal.Status.OK
                journal_rows[fields].append(
                    SiteJournal(
                        offer_id=offer.pk,
                        integration_id=integration.pk,
                        synced_at=now,
                        status=status,
                        message=stored_text(result.message),
                        **{f: values[f] for f in fields},
                    )
                )
                for row in rows:
                    deliveries.append(
                        ChangeDelivery(
                            integration_id=integration.pk,
                            offer_id=offer.pk,
                            group=row.group,
                            changed_at=row.first_changed_at,
                            confirmed_at=now,
                            seconds=max((now - row.first_changed_at).total_seconds(), 0.0),
                            version=row.version,
                            zeroed=guard.zeroes(row.group, offer, entry),
                            price_cut=guard.cuts_price(row.group, offer, entry),
                        )
                    )
            elif result.deferred:
                outcome.deferred += 1
                at = datetime.fromtimestamp(until, tz=UTC) if until else now
                for doubted in (True, False):  # not sent: in doubt only as it was before
                    PendingChange.objects.filter(
                        pk__in=[r.pk for r in rows if r.in_flight == doubted]
                    ).update(
                        next_attempt_at=at, claimed_by="", claimed_until=None, in_flight=doubted
                    )
            else:
                fail(integration, offer, rows, result, now, outcome)
        for fields, entries in journal_rows.items():
            SiteJournal.objects.bulk_create(
                entries,
                update_conflicts=True,
                unique_fields=["offer", "integration"],
                update_fields=["synced_at", "status", "message", *fields],
            )
        confirm(token, sent_rows)
        ChangeDelivery.objects.bulk_create(deliveries)


def fail(integration, offer, rows, result: OfferResult, now, outcome: Outcome) -> None:
    """A transient failure is retried with back-off; a refusal waits for a newer change or a
    person's retry, its reason on the row and in the site journal."""
    transient = result.code in TRANSIENT_CODES or (
        result.http_status is not None and (result.http_status >= 500 or result.http_status == 429)
    )
    message = stored_text(result.message)
    pks = [r.pk for r in rows]
    attempts = max(r.attempts for r in rows) + 1
    if transient:
        outcome.retried += 1
        PendingChange.objects.filter(pk__in=pks).update(
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=backoff(attempts)),
            last_error=message,
            last_code=stored_text(result.code, 100),
            claimed_by="",
            claimed_until=None,
            # The channel answered (5xx, 429): nothing landed. No answer (a timeout): the
            # request may have landed; the next attempt reads first where the channel can.
            in_flight=result.http_status is None,
        )
        return
    outcome.failed += 1
    PendingChange.objects.filter(pk__in=pks).update(
        attempts=attempts,
        refused=True,
        last_error=message,
        last_code=stored_text(result.code, 100),
        claimed_by="",
        claimed_until=None,
        in_flight=False,
    )
    SiteJournal.objects.update_or_create(
        offer_id=offer.pk,
        integration_id=integration.pk,
        defaults={"synced_at": now, "status": SiteJournal.Status.ERROR, "message": message},
    )


def retry_refused(integration_id: int) -> int:
    """A person's retry of the changes the channel refused: due again now."""
    return PendingChange.objects.filter(
        integration_id=integration_id, pending=True, refused=True
    ).update(refused=False, attempts=0, next_attempt_at=None)

"""Everyday sync's guardrail: a wave of changes that looks like a broken feed is held until a
person decides (docs/architecture.md, "Everyday sync").

Within an hour, stock falling to 0 on more than SYNC_GUARD_ZERO_PERCENT (20) % of an
integration's active offers, or prices cut by more than half on more than
SYNC_GUARD_PRICE_CUT_PERCENT (5) % of them (and in both cases on at least
SYNC_GUARD_MIN_OFFERS offers), opens a held `ChangeWave`: no stock or price change of the
integration goes until it is confirmed (everything held goes) or discarded (the held changes
are dropped unsent; the catalogue keeps its values). Counted: pending changes newer than the
last decided wave, and those of them delivered in the last hour.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from offers.models import (
    ChangeDelivery,
    ChangeWave,
    DataGroup,
    OfferChannel,
    PendingChange,
    SiteJournal,
)

HELD_GROUPS = frozenset({DataGroup.STOCK, DataGroup.PRICE})
WINDOW = timedelta(hours=1)


def zeroes(group: str, offer, entry) -> bool:
    """Whether sending `group` of `offer` sets stock 0 where the channel was last sent more."""
    if group != DataGroup.STOCK or offer.stock > 0:
        return False
    return entry is None or entry.stock_sent is None or entry.stock_sent > 0


def cuts_price(group: str, offer, entry) -> bool:
    """Whether sending `group` of `offer` cuts the price sent last by more than half."""
    if group != DataGroup.PRICE or entry is None or entry.price_sent is None:
        return False
    return entry.currency_sent in ("", offer.currency) and offer.price * 2 < entry.price_sent


def held_wave(integration_id: int) -> ChangeWave | None:
    return ChangeWave.objects.filter(
        integration_id=integration_id, decision=ChangeWave.Decision.HELD
    ).first()


def decided_up_to(integration_id: int) -> int:
    """Changes up to this version belong to waves a person decided."""
    return (
        ChangeWave.objects.filter(integration_id=integration_id)
        .exclude(decision=ChangeWave.Decision.HELD)
        .aggregate(v=Max("up_to_version"))["v"]
        or 0
    )


def wave_counts(integration_id: int) -> tuple[int, int, int]:
    """(offers set to stock 0, prices cut by more than half, the newest version counted) of
    the changes newer than the last decided wave: pending ones and those delivered within the
    hour."""
    base = decided_up_to(integration_id)
    journal = SiteJournal.objects.filter(
        integration_id=integration_id, offer_id=OuterRef("offer_id")
    )
    pending = PendingChange.objects.filter(
        integration_id=integration_id, pending=True, version__gt=base
    )
    zero_pending = pending.filter(group=DataGroup.STOCK, offer__stock__lte=0).exclude(
        Exists(journal.filter(stock_sent__lte=0))
    )
    cut_pending = pending.filter(group=DataGroup.PRICE).filter(
        Exists(journal.filter(price_sent__gt=F("offer__price") * 2))
    )
    since = timezone.now() - WINDOW
    delivered = ChangeDelivery.objects.filter(
        integration_id=integration_id, confirmed_at__gte=since, version__gt=base
    )
    zeroed = zero_pending.count() + delivered.filter(zeroed=True).count()
    cuts = cut_pending.count() + delivered.filter(price_cut=True).count()
    newest = pending.filter(group__in=HELD_GROUPS).aggregate(v=Max("version"))["v"] or base
    return zeroed, cuts, newest


def held_groups(integration) -> set[str]:
    """The groups the dispatcher must not send now: stock and price while a wave is held
    (opening one when the changes look like a broken feed)."""
    if held_wave(integration.pk) is not None:
        return set(HELD_GROUPS)
    if not PendingChange.objects.filter(
        integration_id=integration.pk, pending=True, group__in=HELD_GROUPS
    ).exists():
        return set()
    zeroed, cuts, newest = wave_counts(integration.pk)
    if max(zeroed, cuts) < settings.SYNC_GUARD_MIN_OFFERS:
        return set()
    offers = OfferChannel.objects.filter(integration_id=integration.pk, active=True).count()
    if (
        zeroed * 100 <= settings.SYNC_GUARD_ZERO_PERCENT * offers
        and cuts * 100 <= settings.SYNC_GUARD_PRICE_CUT_PERCENT * offers
    ):
        return set()
    try:
        with transaction.atomic():
            ChangeWave.objects.create(
                integration_id=integration.pk,
                up_to_version=newest,
                zeroed=zeroed,
                price_cuts=cuts,
                offers=offers,
            )
    except IntegrityError:
        pass  # another dispatcher opened it first
    return set(HELD_GROUPS)


def decide_wave(integration_id: int, *, confirm: bool, by: str = "") -> ChangeWave | None:
    """A person's decision on the held wave: confirm (its changes go, and newer ones are
    counted afresh) or discard (its held stock and price changes are dropped unsent)."""
    with transaction.atomic():
        wave = (
            ChangeWave.objects.select_for_update()
            .filter(integration_id=integration_id, decision=ChangeWave.Decision.HELD)
            .first()
        )
        if wave is None:
            return None
        # Everything held until now is the wave's, including changes that came meanwhile.
        newest = (
            PendingChange.objects.filter(
                integration_id=integration_id, pending=True, group__in=HELD_GROUPS
            ).aggregate(v=Max("version"))["v"]
            or wave.up_to_version
        )
        wave.up_to_version = max(wave.up_to_version, newest)
        wave.decision = ChangeWave.Decision.CONFIRMED if confirm else ChangeWave.Decision.DISCARDED
        wave.decided_at = timezone.now()
        wave.decided_by = by[:150]
        wave.save()
        if not confirm:
            PendingChange.objects.filter(
                Q(integration_id=integration_id, pending=True, group__in=HELD_GROUPS),
                version__lte=wave.up_to_version,
            ).update(sent_version=F("version"), pending=False, refused=False, last_error="")
    return wave

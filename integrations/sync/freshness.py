"""Everyday sync's freshness, measured: per integration, the time from a change's commit to the
channel's confirmation (p50 and p95 over the last hour and day, from `ChangeDelivery`), the
oldest change still pending, the refused changes by reason and a held wave — what the
integration pages show (templates/sync/_freshness.html)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from integrations.models import failure_reason
from integrations.sync import guard
from integrations.wording import worded
from offers.models import ChangeDelivery, ChangeWave, PendingChange

REASONS_SHOWN = 5


def seconds_text(value: float | None) -> str:
    """A duration as the seller reads it: "0.8 s", "42 s", "3 min", "2 h"; "—" for none."""
    if value is None:
        return "—"
    if value < 10:
        return _("%(n)s s") % {"n": formats.number_format(value, 1)}
    if value < 120:
        return _("%(n)s s") % {"n": formats.number_format(value, 0)}
    if value < 7200:
        return _("%(n)s min") % {"n": formats.number_format(value / 60, 0)}
    return _("%(n)s h") % {"n": formats.number_format(value / 3600, 0)}


def warn_seconds() -> float:
    return settings.SYNC_FRESHNESS_WARN_SECONDS


def percentile(deliveries, fraction: float) -> tuple[float | None, int]:
    """(the `fraction` percentile of the deliveries' seconds, how many there are): nearest rank,
    two queries whatever the number."""
    count = deliveries.count()
    if not count:
        return None, 0
    rank = min(count, max(1, math.ceil(fraction * count)))
    value = deliveries.order_by("seconds").values_list("seconds", flat=True)[rank - 1]
    return value, count


@dataclass
class Window:
    p50: float | None
    p95: float | None
    count: int

    def p50_text(self) -> str:
        return seconds_text(self.p50)

    def p95_text(self) -> str:
        return seconds_text(self.p95)


@dataclass
class Freshness:
    hour: Window
    day: Window
    pending: int
    oldest_pending_seconds: float | None
    refused: int
    retrying: int = 0  # not answered: tried again with back-off
    reasons: list = field(default_factory=list)  # [(reason, count)] of refused and retried
    wave: ChangeWave | None = None
    paused: bool = False
    warn_seconds: float = 60

    def oldest_text(self) -> str:
        return seconds_text(self.oldest_pending_seconds)

    def warn_text(self) -> str:
        return seconds_text(self.warn_seconds)

    @property
    def warn(self) -> bool:
        """The health line warns: p95 over the hour or the oldest pending change is past the
        threshold, or a wave is held."""
        late = [s for s in (self.hour.p95, self.oldest_pending_seconds) if s is not None]
        return self.wave is not None or any(s > self.warn_seconds for s in late)


def window(integration_id: int, since) -> Window:
    deliveries = ChangeDelivery.objects.filter(
        integration_id=integration_id, confirmed_at__gte=since
    )
    p50, count = percentile(deliveries, 0.5)
    p95, _ = percentile(deliveries, 0.95)
    return Window(p50, p95, count)


def of(integration) -> Freshness:
    now = timezone.now()
    pending = PendingChange.objects.filter(integration_id=integration.pk, pending=True)
    summary = pending.aggregate(n=Count("pk"), oldest=Min("first_changed_at"))
    oldest = summary["oldest"]
    refused = pending.filter(refused=True)
    retrying = pending.filter(refused=False, attempts__gt=0)
    reasons: dict[str, int] = {}
    for message, count in (
        pending.exclude(last_error="")
        .values_list("last_error")
        .annotate(n=Count("pk"))
        .order_by("-n")[:50]
    ):
        key = worded(failure_reason(message))
        reasons[key] = reasons.get(key, 0) + count
    return Freshness(
        hour=window(integration.pk, now - timedelta(hours=1)),
        day=window(integration.pk, now - timedelta(days=1)),
        pending=summary["n"],
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest else None,
        refused=refused.count(),
        retrying=retrying.count(),
        reasons=sorted(reasons.items(), key=lambda kv: -kv[1])[:REASONS_SHOWN],
        wave=guard.held_wave(integration.pk),
        paused=not integration.sync_changes or not integration.active,
        warn_seconds=warn_seconds(),
    )


def attach(integrations) -> list:
    """Each integration with its `freshness` (the integration list)."""
    integrations = list(integrations)
    for integration in integrations:
        integration.freshness = of(integration)
    return integrations


DELIVERIES_KEPT = timedelta(days=1)


def prune_deliveries() -> int:
    """Deliveries older than a day go (freshness reads the last day)."""
    cutoff = timezone.now() - DELIVERIES_KEPT
    return ChangeDelivery.objects.filter(confirmed_at__lt=cutoff).delete()[0]


def with_everyday_mark(entries):
    """Site journal rows, each with `everyday`: its last send was an everyday change (a
    delivery confirmed at the row's `synced_at`; deliveries are kept a day)."""
    return entries.annotate(
        everyday=Exists(
            ChangeDelivery.objects.filter(
                integration_id=OuterRef("integration_id"),
                offer_id=OuterRef("offer_id"),
                confirmed_at=OuterRef("synced_at"),
            )
        )
    )

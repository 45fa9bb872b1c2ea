"""The drift check's services: start a check, and resync only what it found different
(the check itself is a step of the engine: integrations/engine/drift_check.py)."""

from django.utils.translation import gettext as _

from integrations import shopconnect
from integrations.engine.drift_check import CONTENT_FIELDS, PRICES_STOCK_FIELDS, unreadable_note
from integrations.models import DriftItem, Integration, ResyncRun
from integrations.services.runs import ResyncError, start_resync
from integrations.wording import worded


def start_check(
    integration: Integration, *, user=None, source: str, data_types: str = ResyncRun.DataTypes.ALL
) -> ResyncRun:
    """Start a drift check of the integration (a background run like a resync).

    A channel xSale cannot read back (its adapter has no `readable_fields`: Zalando) is refused
    before a run is created: an empty run would only stand in the way of the real results."""
    note = unreadable(integration)
    if note:
        raise ResyncError(note)
    return start_resync(
        integration, user=user, source=source, kind=ResyncRun.Kind.CHECK, data_types=data_types
    )


def unreadable(integration: Integration) -> str:
    """Why xSale cannot check this integration for drift, in the reader's language, or "" when
    it can (its adapter reads listings back: `readable_fields`). Asked of the adapter's class:
    building an adapter builds its client, which an integration without its credentials yet
    cannot (its page then failed to open)."""
    if shopconnect.adapter_classes()[integration.channel].readable_fields:
        return ""
    return worded(unreadable_note(integration.get_channel_display()))


def differing_count(check: ResyncRun) -> int:
    """The offers a fix sends now: those that differ and no later fix of the check sent. A
    listing missing on the channel is not among them: a resync edits listings (Allegro:
    PATCH), it cannot bring a deleted one back."""
    return DriftItem.objects.still_differing(check).count()


def resent_count(check: ResyncRun) -> int:
    """The check's differing offers a later fix sent and the channel accepted."""
    return DriftItem.objects.resent(check).count()


def missing_count(check: ResyncRun) -> int:
    """Our offers whose listing is gone from the channel: to be listed again there, by hand or
    by a new listing, then linked (their external id) — the report exports them."""
    return DriftItem.objects.filter(
        check_run=check, kind=DriftItem.Kind.MISSING, offer__isnull=False
    ).count()


def suggested_data_types(check: ResyncRun) -> str:
    """What a fix needs to send: prices and stock when only those differ, content when only
    content does, else everything. Listings missing on the channel do not count: a resync
    edits listings, it cannot bring a removed one back (the channel answers 404 whatever is
    sent, and the report lists them)."""
    report = check.report or {}
    fields = {f for f, n in (report.get("fields") or {}).items() if n}
    if not fields:
        return ResyncRun.DataTypes.ALL
    if fields <= set(PRICES_STOCK_FIELDS):
        return ResyncRun.DataTypes.PRICES_STOCK
    if fields <= set(CONTENT_FIELDS):
        return ResyncRun.DataTypes.CONTENT
    return ResyncRun.DataTypes.ALL


def start_fix(
    check: ResyncRun,
    *,
    user=None,
    source: str,
    data_types: str | None = None,
    photos_too: bool = False,
) -> ResyncRun:
    """Resync only what the check found different and no earlier fix sent (never the listings
    missing on the channel: see differing_count)."""
    if check.kind != ResyncRun.Kind.CHECK:
        raise ResyncError(_("Only a drift check's differences can be resynchronised."))
    if check.status != ResyncRun.Status.COMPLETED:
        raise ResyncError(_("The drift check has not completed; its report is not whole."))
    if not differing_count(check):
        if resent_count(check):
            raise ResyncError(
                _(
                    "Every offer this drift check found different has been resent since. "
                    "Check for drift again to see what still differs."
                )
            )
        raise ResyncError(_("The drift check found no offer to resynchronise."))
    return start_resync(
        check.integration,
        user=user,
        source=source,
        differing_of=check,
        data_types=data_types or suggested_data_types(check),
        photos_too=photos_too,
    )

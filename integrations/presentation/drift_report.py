"""How a drift report's rows read for a seller: where a listing is on the channel, prices with
their currency."""

from django.utils.translation import gettext_lazy

from integrations.channels import descriptor
from integrations.models import DriftItem, Integration
from xsale.numbers import amount_display

# A compared field's name as the report (page, CSV, `resync_offers --check`) shows it.
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "description": gettext_lazy("Description"),
    "price": gettext_lazy("Price"),
    "currency": gettext_lazy("Currency"),
    "stock": gettext_lazy("Stock"),
    "parameters": gettext_lazy("Parameters"),
    "photos": gettext_lazy("Photo count"),
    "external_id": gettext_lazy("Seller's id (SKU)"),
}


def listing_url(integration: Integration, external_id: str, data: dict | None = None) -> str:
    """The listing on the channel, for the seller to open ("" when there is no such page).

    Each channel's descriptor says where (its listing_url hook).
    """
    external_id = (external_id or "").strip()
    hook = descriptor(integration.channel).listing_url
    if not external_id or hook is None:
        return ""
    return hook(integration, external_id, data or {})


def report_notes(integration: Integration, report: dict) -> list[str]:
    """What the seller should know of what this channel's check compared (its descriptor's
    drift_report_notes), in the reader's language."""
    hook = descriptor(integration.channel).drift_report_notes
    return [str(note) for note in hook(report or {})] if hook else []


def with_currency(amount, currency) -> str:
    """A price as the report shows it, in the page's language: "129,00 PLN" (the bare amount
    when the currency is not known, as with a WooCommerce shop, whose currency is the shop's
    setting; a channel's value that is not a number as it came)."""
    if amount in (None, "", "—"):
        return "—"
    return amount_display(amount, currency)


def prices_with_currency(item: DriftItem, rows: list[dict], currency_compared: bool) -> None:
    """Put the currency beside the price cells of one report item's rows (in place).

    Ours is the offer's currency. The channel's is the listing's when it was read: the one in
    the report when the currency differs too, else the same as ours when it was compared."""
    ours_currency = item.offer.currency if item.offer else ""
    theirs_currency = ""
    if "currency" in item.fields:
        theirs_currency = item.fields["currency"].get("theirs") or ""
    elif item.kind == DriftItem.Kind.DIFFERS and currency_compared:
        theirs_currency = ours_currency
    for row in rows:
        if row["field"] == "price":
            if item.kind == DriftItem.Kind.DIFFERS:
                row["ours"] = with_currency(row["ours"], ours_currency)
            row["theirs"] = with_currency(row["theirs"], theirs_currency)

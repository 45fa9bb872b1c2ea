"""How a drift report's rows read for a seller: where a listing is on the channel, prices with
their currency."""

from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy

from integrations.channels import Channel
from integrations.models import DriftItem, Integration
from xsale.numbers import amount_display

ALLEGRO_OFFER_URL = "https://allegro.pl/oferta/{id}"

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


def web_url(value) -> str:
    """`value` when it is an absolute http(s) URL with a host, else "" (a channel's answer is
    untrusted: no javascript: or data: link from it)."""
    if not isinstance(value, str):
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def listing_url(integration: Integration, external_id: str, data: dict | None = None) -> str:
    """The listing on the channel, for the seller to open ("" when there is no such page).

    Allegro: the offer's public page. WooCommerce: the product's permalink as the shop listed
    it, else the product's edit page in the shop's admin.
    """
    external_id = (external_id or "").strip()
    if not external_id:
        return ""
    if integration.channel == Channel.ALLEGRO:
        return (
            ALLEGRO_OFFER_URL.format(id=external_id)
            if external_id.isascii() and external_id.isdigit()
            else ""
        )
    if integration.channel == Channel.WOOCOMMERCE:
        permalink = web_url((data or {}).get("permalink"))
        if permalink:
            return permalink
        shop = web_url(integration.api_url)
        if shop and external_id.isascii() and external_id.isdigit():
            return f"{shop.rstrip('/')}/wp-admin/post.php?post={external_id}&action=edit"
    return ""


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

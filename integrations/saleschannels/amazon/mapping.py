"""Amazon's listings as the Selling Partner API takes them: attributes, JSON Patch, errors.

Shared by the Listings Items path (amazon.py) and the feeds (amazon_feeds.py): a feed's PATCH
message carries exactly the patches a PATCH request does. What is sent and why: amazon.py.
"""

from __future__ import annotations

from integrations.shopconnect.common import OfferSnapshot, json_or_empty
from integrations.wording import Reason

PRODUCT_TYPE_PARAMETER = "amazon_product_type"
BULLET_POINT_PARAMETER = "bullet_point"
ANSWERED = Reason("Amazon answered %(status)s %(reason)s")
TOO_MANY_PHOTOS = Reason(
    "Amazon takes %(slots)s images a listing; the first %(slots)s of %(photos)s photos were sent."
)
IMAGE_SLOTS = (
    "main_product_image_locator",
    *(f"other_product_image_locator_{i}" for i in range(1, 9)),
)


def amazon_errors(response) -> tuple[str, str]:
    """(code, message) from SP-API's `{"errors": [{"code", "message", "details"}]}`."""
    data = json_or_empty(response)
    errors = data.get("errors") if isinstance(data, dict) else None
    codes, messages = [], []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            codes.append(str(error.get("code") or ""))
            text = str(error.get("message") or "")
            details = str(error.get("details") or "")
            messages.append(f"{text} {details}".strip())
    if not messages:
        return "", ANSWERED(status=response.status_code, reason=response.reason)
    return (codes[0] if codes else ""), "; ".join(m for m in messages if m)


def issue_text(issues) -> tuple[str, str]:
    """(code, message) of the ERROR issues of a listing answer or a processing report."""
    codes, messages = [], []
    for issue in issues:
        codes.append(str(issue.get("code") or ""))
        text = str(issue.get("message") or "")
        names = issue.get("attributeNames") or (
            [issue["attributeName"]] if issue.get("attributeName") else []
        )
        if names and isinstance(names, list):
            text = f"{text} ({', '.join(str(n) for n in names)})"
        messages.append(text)
    return (codes[0] if codes else ""), "; ".join(m for m in messages if m)


def errors_of(issues) -> list[dict]:
    return [i for i in issues or [] if isinstance(i, dict) and i.get("severity") == "ERROR"]


# --- mapping -----------------------------------------------------------------------------


class Marketplace:
    """Where the integration sells: seller, marketplace, language, default product type."""

    def __init__(self, integration):
        self.seller_id = integration.setting("seller_id")
        self.marketplace_id = integration.setting("marketplace_id")
        self.language_tag = integration.setting("language_tag")
        self.product_type = integration.setting("product_type")

    def text(self, value: str) -> dict:
        return {
            "value": value,
            "language_tag": self.language_tag,
            "marketplace_id": self.marketplace_id,
        }


def product_type(snap: OfferSnapshot, place: Marketplace) -> str:
    for name, value in snap.parameters:
        if name.strip().lower() == PRODUCT_TYPE_PARAMETER and value.strip():
            return value.strip()
    return place.product_type


def attributes(snap: OfferSnapshot, place: Marketplace) -> dict[str, list[dict]]:
    """The attributes a resync of the offer sets, as the run chose (content, prices, stock)."""
    out: dict[str, list[dict]] = {}
    if snap.send_content:
        out["item_name"] = [place.text(snap.name)]
        if snap.description.strip():
            out["product_description"] = [place.text(snap.description)]
        bullets = [
            value
            for name, value in snap.parameters
            if name.strip().lower() == BULLET_POINT_PARAMETER and value.strip()
        ]
        if bullets:
            out["bullet_point"] = [place.text(value) for value in bullets]
    if snap.send_prices_stock:
        out["purchasable_offer"] = [
            {
                "currency": snap.currency,
                "our_price": [{"schedule": [{"value_with_tax": float(snap.price)}]}],
                "marketplace_id": place.marketplace_id,
            }
        ]
        out["fulfillment_availability"] = [
            {"fulfillment_channel_code": "DEFAULT", "quantity": snap.stock}
        ]
    if snap.send_photos:
        for slot, photo in zip(IMAGE_SLOTS, snap.photos, strict=False):
            out[slot] = [{"media_location": photo.url, "marketplace_id": place.marketplace_id}]
    return out


def patches(snap: OfferSnapshot, place: Marketplace) -> list[dict]:
    """JSON Patch operations on top-level attributes: what the PATCH request and a feed's
    PATCH message carry alike."""
    ops = [
        {"op": "replace", "path": f"/attributes/{name}", "value": value}
        for name, value in attributes(snap, place).items()
    ]
    if snap.send_photos:
        # The photo set shrank: the slots it no longer fills are emptied on Amazon too.
        ops += [
            {
                "op": "delete",
                "path": f"/attributes/{slot}",
                "value": [{"marketplace_id": place.marketplace_id}],
            }
            for slot in IMAGE_SLOTS[len(snap.photos) :]
        ]
    return ops


def photo_files(snap: OfferSnapshot) -> int:
    return min(len(snap.photos), len(IMAGE_SLOTS)) if snap.send_photos else 0


def photos_warning(snap: OfferSnapshot) -> str:
    if snap.send_photos and len(snap.photos) > len(IMAGE_SLOTS):
        return TOO_MANY_PHOTOS(slots=len(IMAGE_SLOTS), photos=len(snap.photos))
    return ""

"""How an offer reads on Allegro: its name cut to 75 characters, its description's HTML, its
parameters by name, and the PATCH body of an edit (docs/channels/allegro.md). The adapter
sends these; a drift check expects them."""

from __future__ import annotations

import re

from integrations.shopconnect.common import OfferSnapshot
from integrations.wording import Reason

NAME_MAX_CHARS = 75
BLOCK_START = re.compile(r"^\s*<(p|h1|h2|ul|ol)[\s>/]", re.IGNORECASE)
NAME_SHORTENED = Reason("The name was shortened to Allegro's %(max)s characters: “%(name)s”.")


def allegro_name(name: str) -> tuple[str, str]:
    """The name cut to Allegro's 75 characters (at a word boundary), and a warning if cut."""
    name = " ".join(name.split())
    if len(name) <= NAME_MAX_CHARS:
        return name, ""
    cut = name[:NAME_MAX_CHARS]
    if " " in cut and name[NAME_MAX_CHARS] != " ":
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,;:-")
    return cut, NAME_SHORTENED(max=NAME_MAX_CHARS, name=cut)


def allegro_description(html: str) -> str:
    html = html.strip()
    if not html or BLOCK_START.match(html):
        return html
    return f"<p>{html}</p>"


def allegro_parameters(parameters: list[tuple[str, str]]) -> list[dict]:
    by_name: dict[str, list[str]] = {}
    for name, value in parameters:
        by_name.setdefault(name, []).append(value)
    return [{"name": name, "values": values} for name, values in by_name.items()]


def offer_body(snap: OfferSnapshot, images: list[str] | None) -> tuple[dict, str]:
    """The PATCH body — content, prices and stock, or both, as the run chose — and a warning
    (empty when none)."""
    body: dict = {}
    warning = ""
    if snap.send_content:
        name, warning = allegro_name(snap.name)
        body["name"] = name
        description = allegro_description(snap.description)
        if description:
            body["description"] = {
                "sections": [{"items": [{"type": "TEXT", "content": description}]}]
            }
        body["parameters"] = allegro_parameters(snap.parameters)
    if snap.send_prices_stock:
        body["sellingMode"] = {"price": {"amount": snap.price_text, "currency": snap.currency}}
        body["stock"] = {"available": snap.stock, "unit": "UNIT"}
    if snap.send_content:
        body["external"] = {"id": snap.sku}
        if images:
            body["images"] = images
    return body, warning

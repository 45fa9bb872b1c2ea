"""Allegro's part of the demo showcase (`seed_demo --scenario showcase`, services/demo.py): a
drift check finds differences (its listings seeded from the catalogue, then drifted: prices,
names, two removed, two unknown); a resync then ends with failures (the sandbox refuses the
names of every 30th offer, and the two removed listings are gone)."""

import re

import requests

# Demo names are "<category> <n>" with the category n % 6 (CATEGORIES): the mugs are the
# multiples of 6, so this refuses n = 30, 60, 90, … (100 of the 3,000 demo offers).
SHOWCASE_REJECTED = r"^Kubek ceramiczny \d*0$"
SHOWCASE_DRIFT = {"price_share": 0.05, "name_share": 0.01, "remove": 2, "add_unknown": 2, "seed": 7}


def showcase(base: str, demo) -> list[str]:
    """Configure the Allegro demo integration's sandbox account (`demo`: services/demo.py's
    DemoIntegration); returns what was done."""
    done = []
    offers = demo.listings()
    refused = sum(1 for offer in offers if re.search(SHOWCASE_REJECTED, offer["name"]))
    _sandbox_post(
        f"{base}/_sandbox/allegro/demo/config", {"reject_name_pattern": SHOWCASE_REJECTED}
    )
    done.append(f"{demo.name}: {refused} offers' names are refused ({SHOWCASE_REJECTED})")
    listings = [
        {
            "id": offer["id"],
            "name": offer["name"][:75],
            "price": offer["price"],
            "currency": offer["currency"],
            "stock": offer["stock"],
            "external_id": offer["sku"],
        }
        for offer in offers
    ]
    _sandbox_post(f"{base}/_sandbox/allegro/demo/seed", {"offers": listings})
    answer = _sandbox_post(f"{base}/_sandbox/allegro/demo/drift", SHOWCASE_DRIFT)
    changed = {field: len(items) for field, items in answer.get("changes", {}).items() if items}
    done.append(
        f"{demo.name}: {len(listings)} listings seeded, then drifted on the channel "
        f"({', '.join(f'{n} {field}' for field, n in changed.items())}, "
        f"{len(answer.get('removed', []))} removed, {len(answer.get('added', []))} unknown)"
    )
    return done


def _sandbox_post(url: str, payload: dict) -> dict:
    response = requests.post(url, json=payload, timeout=30)
    response.raise_for_status()
    return response.json()

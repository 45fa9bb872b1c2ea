"""WooCommerce's part of the demo showcase (`seed_demo --scenario showcase`, services/demo.py):
a resync of the shop pauses for its budget."""

SHOWCASE_SHOP_RPM = 12


def showcase(base: str, demo) -> list[str]:
    """The demo shop's budget: 12 requests a minute, so that a resync pauses."""
    demo.set_requests_per_minute(SHOWCASE_SHOP_RPM)
    return [f"{demo.name}: {SHOWCASE_SHOP_RPM} requests/min, so a resync pauses"]

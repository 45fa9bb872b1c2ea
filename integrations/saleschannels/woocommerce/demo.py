"""WooCommerce's part of the demo showcase (`seed_demo --scenario showcase`, services/demo.py):
a resync of the shop pauses for its budget."""

from integrations.models import Integration
from integrations.saleschannels.woocommerce.descriptor import DESCRIPTOR

SHOWCASE_SHOP_RPM = 12


def showcase(base: str) -> list[str]:
    """The demo shop's budget: 12 requests a minute, so that a resync pauses."""
    shop = Integration.objects.get(name=f"{DESCRIPTOR.label} (demo)")
    shop.requests_per_minute = SHOWCASE_SHOP_RPM
    shop.save(update_fields=["requests_per_minute"])
    return [f"{shop.name}: {SHOWCASE_SHOP_RPM} requests/min, so a resync pauses"]

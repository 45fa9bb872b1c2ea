"""ShopConnect: the channel adapters. `adapter_for(integration)` picks the integration's one."""

from integrations.channels import Channel
from integrations.shopconnect.base import ChannelAdapter


def adapter_classes() -> dict:
    """{channel: its adapter class} (imported on first use)."""
    from integrations.shopconnect.allegro import AllegroAdapter
    from integrations.shopconnect.amazon import AmazonAdapter
    from integrations.shopconnect.woocommerce import WooCommerceAdapter
    from integrations.shopconnect.zalando import ZalandoAdapter

    return {
        Channel.ALLEGRO: AllegroAdapter,
        Channel.ZALANDO: ZalandoAdapter,
        Channel.WOOCOMMERCE: WooCommerceAdapter,
        Channel.AMAZON: AmazonAdapter,
    }


def adapter_for(integration) -> ChannelAdapter:
    """The adapter of the integration's channel.

    Cheap to call per chunk: the HTTP client behind it (pace, pause, token) is cached per
    process and integration; the budgets it spends are shared by every process.
    """
    try:
        adapter_class = adapter_classes()[integration.channel]
    except KeyError:
        raise ValueError(f"no ShopConnect adapter for channel {integration.channel!r}") from None
    return adapter_class(integration)

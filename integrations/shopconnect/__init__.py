"""ShopConnect: the transport the channel adapters share (client, errors, pacing, budgets).
`adapter_for(integration, store)` picks the integration's adapter, from its channel's
descriptor; `store` is the port through which it keeps what it must (shopconnect/store.py; the
core passes the engine's, engine/store.py)."""

from django.utils.module_loading import import_string

from integrations.channels import DESCRIPTORS
from integrations.shopconnect.base import ChannelAdapter
from integrations.shopconnect.store import ChannelStore


def adapter_classes() -> dict:
    """{channel: its adapter class} (imported on first use)."""
    return {d.value: import_string(d.adapter) for d in DESCRIPTORS}


def adapter_for(integration, store: ChannelStore | None = None) -> ChannelAdapter:
    """The adapter of the integration's channel.

    Cheap to call per chunk: the HTTP client behind it (pace, pause, token) is cached per
    process and integration; the budgets it spends are shared by every process.
    """
    try:
        adapter_class = adapter_classes()[integration.channel]
    except KeyError:
        raise ValueError(f"no ShopConnect adapter for channel {integration.channel!r}") from None
    return adapter_class(integration, store=store)

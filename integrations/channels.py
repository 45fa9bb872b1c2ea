"""The sales channels xSale talks to, and the facts about each that the engine paces by.

Read from the registry (integrations/saleschannels/registry.py): each channel's package
declares its descriptor, with its facts and limits and their sources (docs/channels/). This
module is what the core reads them by: the choices, the facts, the photo rule, the labels.
"""

from django.db import models

from integrations.saleschannels.base import (  # noqa: F401 (the names the core reads here)
    HOUR,
    MINUTE,
    SECOND,
    TYPICAL_PHOTOS_PER_OFFER,
    BudgetSpec,
    ChannelDescriptor,
    ChannelFacts,
    Limit,
    token_bucket,
)
from integrations.saleschannels.registry import DESCRIPTORS

DESCRIPTOR_OF: dict[str, ChannelDescriptor] = {d.value: d for d in DESCRIPTORS}

# Integration.channel's choices: ALLEGRO = "allegro", "Allegro", … (the registry's order).
Channel = models.TextChoices(
    "Channel", [(d.value.upper(), (d.value, d.label)) for d in DESCRIPTORS]
)
Channel.__module__ = __name__

# Product rule (docs/architecture.md, product rule 2), hard-coded on purpose: it is not a setting.
# For these
# channels a resync uploads the photo binaries again; every other channel gets photos only when
# the photo set's hash differs from the one in the site journal. Each channel's package declares
# its own value as a constant (its descriptor.py); true for Allegro and Zalando only.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = frozenset(
    d.value for d in DESCRIPTORS if d.always_send_binary_data_content
)

CHANNEL_FACTS: dict[str, ChannelFacts] = {d.value: d.facts for d in DESCRIPTORS}


def descriptor(channel: str) -> ChannelDescriptor:
    """The channel's descriptor (KeyError for a channel the registry does not have)."""
    return DESCRIPTOR_OF[channel]


ALL_CREDENTIAL_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(k for facts in CHANNEL_FACTS.values() for k in facts.credential_keys)
)

CREDENTIAL_LABELS = {key: label for d in DESCRIPTORS for key, label in d.credential_labels.items()}

ALL_SETTING_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(k for facts in CHANNEL_FACTS.values() for k in facts.settings)
)

SETTING_LABELS = {key: label for d in DESCRIPTORS for key, label in d.setting_labels.items()}


def channel_facts(channel: str) -> ChannelFacts:
    return CHANNEL_FACTS[channel]


def sends_photo_binaries_always(channel: str) -> bool:
    return channel in ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT


def limits_for(channel: str, budget: str) -> tuple[Limit, ...]:
    """A budget's windows: the published ones, unless the deployment overrides them.

    Operators override without a release through the CHANNEL_LIMITS setting (environment
    variable, JSON): {"allegro": {"edits": [[2490, 60], [74700, 3600]]}} — each window as
    [count, seconds]. An empty list switches a budget off (benchmarks only).
    """
    from django.conf import settings

    override = (getattr(settings, "CHANNEL_LIMITS", None) or {}).get(channel, {}).get(budget)
    if override is not None:
        return tuple(Limit(int(count), int(seconds)) for count, seconds in override)
    spec = channel_facts(channel).budgets.get(budget)
    return spec.limits if spec else ()

"""The channels xSale talks to: one line per channel, in the order the pages list them."""

from integrations.saleschannels.allegro.descriptor import DESCRIPTOR as ALLEGRO
from integrations.saleschannels.amazon.descriptor import DESCRIPTOR as AMAZON
from integrations.saleschannels.base import ChannelDescriptor
from integrations.saleschannels.mirakl.descriptor import DESCRIPTOR as MIRAKL
from integrations.saleschannels.woocommerce.descriptor import DESCRIPTOR as WOOCOMMERCE
from integrations.saleschannels.zalando.descriptor import DESCRIPTOR as ZALANDO

DESCRIPTORS: tuple[ChannelDescriptor, ...] = (
    ALLEGRO,
    ZALANDO,
    WOOCOMMERCE,
    AMAZON,
    MIRAKL,
)

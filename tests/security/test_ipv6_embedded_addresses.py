"""Issue #16, finding 7a: an IPv6 address that carries a private IPv4 address (6to4, Teredo, NAT64,
IPv4-mapped) is refused as that address would be; one that leads to a public address is not."""

import pytest

from xsale.urlsafety import UnsafeURL, check_url

# --- 7a: IPv6 addresses that carry a private IPv4 address --------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "https://[2002:c0a8:1::]/",  # 6to4 of 192.168.0.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "https://[2001:0:7f00:1:8000:63bf:3fff:fdd2]/",  # Teredo, server 127.0.0.1
        "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "https://[64:ff9b:1::808:808]/",  # NAT64 local use: maps as the network decides
        "https://[::ffff:10.0.0.1]/",  # IPv4-mapped
        "https://[::ffff:169.254.169.254]/",
    ],
)
def test_ipv6_addresses_that_embed_a_private_ipv4_address_are_refused(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(UnsafeURL):
        check_url(url, resolve=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
        "https://[64:ff9b::808:808]/",  # NAT64 (DNS64 networks) of 8.8.8.8
        "https://[::ffff:8.8.8.8]/",
        "https://[2a00:1450:4001:80b::200e]/",  # a plain public IPv6 address
    ],
)
def test_ipv6_addresses_that_lead_to_a_public_address_are_accepted(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    check_url(url, resolve=False)


def test_the_connected_peer_is_judged_the_same_way():
    import ipaddress

    from xsale.urlsafety import is_public

    assert not is_public(ipaddress.ip_address("2002:7f00:1::"))
    assert is_public(ipaddress.ip_address("2002:808:808::1"))

"""Where xSale may send a request: the one rule for integration URLs and imported photo URLs.

https only, to public addresses. Hosts an operator allows (settings.OUTBOUND_ALLOWED_HOSTS: the
sandbox, a development shop) may use plain http and private or loopback addresses. Without this
rule an integration URL or a photo URL could make xSale call its own internal services (SSRF),
with an integration's credentials attached.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.utils.translation import gettext as _


class UnsafeURL(ValueError):
    """A URL xSale refuses to call. The message is for a seller: it names at most the host,
    never the whole URL (whose path or query may hold a token)."""


def _normalized(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def is_allowed_host(host: str) -> bool:
    """True for a host named in OUTBOUND_ALLOWED_HOSTS (exact name, case-insensitive)."""
    allowed = {_normalized(h) for h in settings.OUTBOUND_ALLOWED_HOSTS if h.strip()}
    return bool(host) and _normalized(host) in allowed


# IPv6 ranges that carry an IPv4 address inside: the packet ends up at that IPv4 address, so it
# is the one judged. NAT64's well-known prefix (RFC 6052) holds it in the last 32 bits; its
# local-use prefix (RFC 8215) maps as the local network decides, so it is never public.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address leads to (IPv4-mapped, 6to4, Teredo's server and
    client, NAT64), or None when it embeds none."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return None


def _is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not address.is_multicast and not address.is_reserved


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.version == 6:
        if address in NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return all(_is_public_address(inner) for inner in embedded)
    return _is_public_address(address)


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise UnsafeURL unless xSale may call `url`.

    With `resolve`, the host name is looked up and every address it has must be public (not
    private, loopback, link-local, reserved or multicast); an allowed host skips that.
    """
    try:
        parts = urlsplit(str(url).strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise UnsafeURL(_("This is not a valid web address.")) from None
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeURL(_("The address must start with https:// and name a host."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(_("The address must not contain a user name or password."))
    if is_allowed_host(host):
        return
    if parts.scheme != "https":
        raise UnsafeURL(_("Only https:// addresses are allowed (%(host)s).") % {"host": host})
    host = _normalized(host)
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeURL(_("%(host)s is a local address; xSale does not call it.") % {"host": host})
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif resolve:
        try:
            infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise UnsafeURL(_("The host %(host)s cannot be found.") % {"host": host}) from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    else:
        return
    if not all(is_public(address) for address in addresses):
        raise UnsafeURL(
            _("%(host)s is a private or local address; xSale does not call it.") % {"host": host}
        )


# --- The same rule when the connection is made ---------------------------------------------------
# check_url resolves the name once; the HTTP client resolves it again to connect. A name whose
# DNS answer changes in between (DNS rebinding) would pass the check and reach an inside address.
# This requests adapter checks the address actually connected to, before a byte is sent.


def _check_peer(sock: socket.socket, host: str) -> None:
    if is_allowed_host(host):
        return
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if not is_public(peer):
        sock.close()
        raise UnsafeURL(
            _("%(host)s is a private or local address; xSale does not call it.") % {"host": host}
        )


class _CheckedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _CheckedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _CheckedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAddressAdapter(requests.adapters.HTTPAdapter):
    """Mount on a requests.Session (with trust_env off: no proxy) for both http:// and https://;
    a connection to a private, loopback, link-local, reserved or multicast address raises
    UnsafeURL unless the host is allowed."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }

"""The client's address, for login throttling (django-axes' AXES_CLIENT_IP_CALLABLE).

gunicorn listens on 127.0.0.1 behind the proxy, so REMOTE_ADDR is the proxy's address for every
client. With TRUSTED_PROXY_IP_HEADER set (e.g. HTTP_X_FORWARDED_FOR), the address is read from
that header instead: each of the TRUSTED_PROXY_COUNT proxies in front of xSale appends the
address it received the request from, so the client's is the TRUSTED_PROXY_COUNT-th from the
right. What a client writes in the header itself stays on the left and is never used. Off by
default: without a proxy that sets the header, anyone could write it.

(django-axes' AXES_IPWARE_* settings take effect only with django-ipware installed; this
callable needs nothing more.)
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    header = settings.TRUSTED_PROXY_IP_HEADER
    if not header:
        return remote
    hops = [hop.strip() for hop in request.META.get(header, "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(settings.TRUSTED_PROXY_COUNT, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not what a proxy writes: the proxy's own address, as without a header
        return remote

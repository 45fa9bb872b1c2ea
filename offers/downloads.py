"""Downloading the photo of an imported line: to a file on disk, bounded in hops, time and size.

Every address, the first and each redirect's, passes xsale/urlsafety.check_url, and so does the
address actually connected to: a feed cannot make xSale fetch from its own network. The whole
download (all hops) has one time limit, checked between reads, so a server that drips a byte at
a time is cut off too; the body is counted as it arrives, so a photo larger than the limit is
never kept whole, in memory or on disk.
"""

import time
from urllib.parse import urljoin

import requests
import urllib3
from django.conf import settings
from django.utils.translation import gettext as _

from xsale.urlsafety import CheckedAddressAdapter, UnsafeURL, check_url

CHUNK_BYTES = 64 * 1024
CONNECT_SECONDS = 5.0


class DownloadError(Exception):
    """Why a photo could not be downloaded, for the person who wrote the feed."""


def download_photo(url: str, dest) -> None:
    """Write the photo at `url` into the binary file `dest`, or raise DownloadError."""
    limit = settings.PHOTO_DOWNLOAD_SECONDS
    deadline = time.monotonic() + limit
    with requests.Session() as session:
        session.trust_env = False  # no proxy or .netrc from the environment: we reach the host
        # The address connected to is checked too, not only the one check_url resolved.
        session.mount("http://", CheckedAddressAdapter())
        session.mount("https://", CheckedAddressAdapter())
        for _hop in range(settings.PHOTO_MAX_REDIRECTS + 1):
            try:
                check_url(url)
            except UnsafeURL as error:
                raise DownloadError(str(error)) from None
            try:
                location = _fetch(session, url, dest, deadline)
            except UnsafeURL as error:
                raise DownloadError(str(error)) from None
            except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
                raise DownloadError(
                    _("took longer than %(seconds)s s") % {"seconds": f"{limit:g}"}
                ) from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise DownloadError(exc.__class__.__name__) from None
            if location is None:
                return
            url = urljoin(url, location)
    raise DownloadError(
        _("more than %(count)s redirects") % {"count": settings.PHOTO_MAX_REDIRECTS}
    )


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _fetch(session, url: str, dest, deadline: float) -> str | None:
    """One request: a redirect's Location, or None once the body is written to `dest`."""
    left = _remaining(deadline)
    max_bytes = settings.PHOTO_MAX_BYTES
    with session.get(
        url, stream=True, allow_redirects=False, timeout=(min(CONNECT_SECONDS, left), left)
    ) as resp:
        if resp.is_redirect:
            return resp.headers["Location"]
        if resp.status_code != 200:
            raise DownloadError(f"HTTP {resp.status_code}")
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes)
        size = 0
        while True:
            _bound_next_read(resp, deadline)
            chunk = resp.raw.read1(CHUNK_BYTES)
            if not chunk:
                return None
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            dest.write(chunk)


def _too_large(max_bytes: int) -> DownloadError:
    return DownloadError(_("larger than %(mib)s MiB") % {"mib": max_bytes // 2**20})


def _bound_next_read(resp, deadline: float) -> None:
    """The next read waits at most until the deadline (a socket timeout is per read)."""
    left = _remaining(deadline)
    sock = getattr(getattr(resp.raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(left)

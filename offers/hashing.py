"""Hashes that tell whether what a channel has is still what the catalogue says."""

import hashlib
import json
from collections.abc import Iterable
from typing import IO


def file_sha256(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: fileobj.read(1 << 16), b""):
        digest.update(block)
    return digest.hexdigest()


def photo_set_hash(photo_sha256s: Iterable[str]) -> str:
    """Hash of an ordered photo set; empty string for an offer with no photos."""
    shas = list(photo_sha256s)
    if not shas:
        return ""
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


# json.dumps(…, ensure_ascii=False, separators=(",", ":")), without building an encoder per
# call (content_hash runs for every offer a chunk sends).
_CONTENT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def content_hash(*, name, description, price, currency, stock, parameters) -> str:
    """Hash of everything but photos that a resync sends; `parameters` is [(name, value), …]."""
    payload = _CONTENT_JSON.encode(
        [name, description, str(price), currency, int(stock), [list(p) for p in parameters]]
    )
    return hashlib.sha256(payload.encode()).hexdigest()

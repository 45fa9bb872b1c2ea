"""Small pieces every channel emulator uses: the request, the reply, auth headers, images."""

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

ALLEGRO_JSON = "application/vnd.allegro.public.v1+json"

_UNSET = object()


@dataclass
class Reply:
    status: int
    body: object = None  # dict/list → JSON; bytes/str → sent as they are
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


class Request:
    """One request to a channel endpoint, as the channel handlers see it."""

    def __init__(self, method, rest, query, headers, body, base_url, account_url, account=None):
        self.method = method
        self.rest = rest  # path segments after /{channel}/{account}
        self.query = query  # dict of lists (parse_qs)
        self.headers = headers  # case-insensitive (email.message.Message)
        self.body = body
        self.base_url = base_url  # http://host:port
        self.account_url = account_url  # {base}/{channel}/{account}
        self.account = account  # the Account it arrived at (limits that weigh what it holds)
        self._json = _UNSET

    def json(self):
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body) if self.body else _UNSET
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"Malformed JSON: {exc}") from None
            if self._json is _UNSET:
                raise ValueError("The request body is empty")
        return self._json

    def json_or_none(self):
        try:
            return self.json()
        except ValueError:
            return None

    def form(self) -> dict:
        """Form fields (body, then query string) as single values."""
        values = {k: v[-1] for k, v in self.query.items()}
        try:
            body = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            body = {}
        values.update({k: v[-1] for k, v in body.items()})
        return values

    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def basic_auth(headers) -> tuple[str, str] | None:
    value = headers.get("Authorization") or ""
    if value[:6].lower() != "basic ":
        return None
    try:
        user, _, password = (
            base64.b64decode(value[6:].strip(), validate=True).decode().partition(":")
        )
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def bearer(headers) -> str | None:
    value = headers.get("Authorization") or ""
    if value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def image_type(data: bytes) -> str | None:
    """The image type its first bytes say it is (JPEG, PNG, WEBP), else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


IMAGE_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def nth_hit(n: int, share: float) -> bool:
    """Deterministic share: True for exactly ⌊n·share⌋ of the first n calls, evenly spread.

    With share 0.05 the 20th, 40th, 60th… calls hit, so tests are reproducible.
    """
    if share <= 0:
        return False
    if share >= 1:
        return True
    return int(n * share + 1e-9) > int((n - 1) * share + 1e-9)


EAN_RE = re.compile(r"^\d{8,14}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

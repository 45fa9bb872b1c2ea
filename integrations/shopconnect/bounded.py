"""What a channel answers, read under explicit bounds (docs/architecture.md, trust boundaries: its
answers are untrusted).

A size cap alone does not keep a worker alive: 9 KB of GZIP inflate to a processing report of
3 million issues, 11 bytes (`"1e999999999"`) format to a gigabyte string, a 65 KB GZIP to one
64 MiB line. So every answer and document is read within these bounds, and past one the read
fails with `BoundExceeded`, whose `reason` a seller can read (the adapters turn it into that
request's, listing's or run's failure — never a worker lost):

- numbers (`channel_number`, used by every reader of a channel's price, stock and lifetime):
  at most NUMBER_MAX_CHARS characters, finite, below 10**NUMBER_MAX_DIGITS — no price, stock
  or token lifetime comes near;
- JSON answers (`answer_json`, already capped at CHANNEL_MAX_ANSWER_BYTES by the HTTP client):
  measured before they are parsed — entries (values in arrays and objects) at most
  CHANNEL_MAX_ANSWER_ENTRIES, nesting at most CHANNEL_MAX_NESTING — and parsed with numbers of
  at most NUMBER_MAX_CHARS characters, floats finite (NaN and Infinity refused);
- JSON documents that may be large (Amazon's feed processing report: `json_document`): read
  from the file in chunks, never whole; the one array that may be long is handed over item by
  item (each at most ITEM_MAX_CHARS), the rest kept; entries counted against
  CHANNEL_MAX_DOCUMENT_ENTRIES, the reading stopped after CHANNEL_DOCUMENT_SECONDS;
- tab documents (amazon_documents.TabDocument) use `Lines`: lines at most
  CHANNEL_MAX_LINE_BYTES, at most CHANNEL_MAX_DOCUMENT_ENTRIES of them, counted within
  CHANNEL_DOCUMENT_SECONDS.

Measuring an answer is done by C-speed passes of bytes methods over its punctuation (no piece
of it is copied out one by one): a megabyte is measured in milliseconds.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext as _

# A number as a channel writes it ("129.90", "1.2E+3", 42): longer is no number we read.
NUMBER_MAX_CHARS = 40
# Digits before the decimal point: 10**15 is beyond any price, stock or lifetime in seconds.
NUMBER_MAX_DIGITS = 15
# One item of a document's long array (an issue of a processing report: a few hundred bytes).
ITEM_MAX_CHARS = 1024 * 1024
CHUNK = 256 * 1024

# Nesting does not depend on the kind of bracket: {} are counted as [].
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SPACE = re.compile(r"[ \t\r\n]*")


class BoundExceeded(Exception):
    """A channel's answer or document is past one of the bounds; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- numbers -----------------------------------------------------------------------------------


def channel_number(value, *, what: str) -> Decimal | None:
    """A number a channel sent (a JSON number or a text): a finite Decimal; None when it is no
    number at all (absent, blank, a word). Raises BoundExceeded when it is past the bounds
    (too many characters, infinite or NaN, 10**NUMBER_MAX_DIGITS or more). `what` names it
    in the reason ("the price")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) >= 10**NUMBER_MAX_DIGITS:
            raise BoundExceeded(_too_large(what))
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BoundExceeded(_not_finite(what))
        text = repr(value)
    elif isinstance(value, str | Decimal):
        text = str(value).strip()
    else:
        return None
    if not text:
        return None
    if len(text) > NUMBER_MAX_CHARS:
        raise BoundExceeded(_too_long(what, len(text)))
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        raise BoundExceeded(_not_finite(what))
    if number and number.adjusted() >= NUMBER_MAX_DIGITS:
        raise BoundExceeded(_too_large(what))
    return number


def amount_text(value, *, what: str) -> str | None:
    """A channel's amount as two decimals ("129.90"); None when it is no number. Raises
    BoundExceeded past the number bounds."""
    number = channel_number(value, what=what)
    return None if number is None else f"{number:.2f}"


# A listing's key when one of its fields is past a bound: the drift check fails that listing's
# offer with the reason (engine/drift_check.py) instead of comparing it.
UNREADABLE = "unreadable"


def read_amount(fields: dict, name: str, value) -> None:
    """A listing's amount into `fields[name]` as two decimals (left out when it is no number);
    past the number bounds the listing is marked UNREADABLE with the reason."""
    try:
        text = amount_text(value, what=_("the price"))
    except BoundExceeded as exc:
        fields[UNREADABLE] = exc.reason
        return
    if text is not None:
        fields[name] = text


def read_count(fields: dict, name: str, value) -> None:
    """A listing's count (stock) into `fields[name]`: a whole number (left out otherwise);
    past the number bounds the listing is marked UNREADABLE with the reason."""
    try:
        number = channel_number(value, what=_("the stock"))
    except BoundExceeded as exc:
        fields[UNREADABLE] = exc.reason
        return
    if number is not None and number == number.to_integral_value():
        fields[name] = int(number)


def channel_seconds(value, *, default: float) -> float:
    """A duration a channel gave (a token's `expires_in`): `default` when it is no number or
    past the bounds, at least one second."""
    try:
        number = channel_number(value, what=_("the duration"))
    except BoundExceeded:
        number = None
    return default if number is None else max(float(number), 1.0)


def _capital(what: str) -> str:
    return what[:1].upper() + what[1:]


def _too_long(what: str, length: int) -> str:
    return _(
        "%(what)s sent by the channel is %(count)s characters long; xSale reads numbers of at "
        "most %(max)s characters."
    ) % {"what": _capital(what), "count": f"{length:,}", "max": NUMBER_MAX_CHARS}


def _not_finite(what: str) -> str:
    return _("%(what)s sent by the channel is not a finite number.") % {"what": _capital(what)}


def _too_large(what: str) -> str:
    return _(
        "%(what)s sent by the channel has %(digits)s or more digits before the decimal point; "
        "no real value has, so xSale did not read it."
    ) % {"what": _capital(what), "digits": NUMBER_MAX_DIGITS + 1}


# In JSON answers a number is bounded by its characters, and a float must be finite; its size
# is the reader's to judge (channel_number, where it becomes a price or a stock): a count
# of 10**15 listings is a (wrong) answer the drift check reports, not a worker's risk.
def _json_float(text: str) -> float:
    if len(text) <= NUMBER_MAX_CHARS:
        value = float(text)
        if math.isfinite(value):
            return value
        raise BoundExceeded(_not_finite(_("a number")))
    raise BoundExceeded(_too_long(_("a number"), len(text)))


def _json_int(text: str) -> int:
    if len(text) <= NUMBER_MAX_CHARS:
        return int(text)
    raise BoundExceeded(_too_long(_("a number"), len(text)))


def _json_constant(name: str):
    raise BoundExceeded(
        _("The channel's answer holds %(name)s, which is no number.") % {"name": name}
    )


_DECODER = json.JSONDecoder(
    parse_float=_json_float, parse_int=_json_int, parse_constant=_json_constant
)


# --- JSON answers ------------------------------------------------------------------------------


def measure(data: bytes, *, max_depth: int) -> tuple[int, int]:
    """(entries, nesting) of a JSON text, without parsing it, by its punctuation: entries is
    an upper bound of its values (a comma or bracket inside a text counts too); nesting is
    counted up to max_depth + 1 by removing the innermost pairs of brackets, a level a pass.
    Bytes methods only: no list of pieces, nothing but copies of the text's brackets."""
    entries = data.count(b",") + data.count(b"[") + data.count(b"{") + 1
    brackets = data.translate(_SQUARE, _NOT_BRACKETS)
    depth = 0
    while brackets and depth <= max_depth:
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            break  # unbalanced: the parser says so
        brackets, depth = inner, depth + 1
    return entries, depth


def check_measure(data: bytes, *, what: str, max_entries: int) -> int:
    """The entries of `data` (measure); raises BoundExceeded past the entries or nesting."""
    max_depth = settings.CHANNEL_MAX_NESTING
    entries, depth = measure(data, max_depth=max_depth)
    if depth > max_depth:
        raise BoundExceeded(
            _(
                "%(what)s is nested deeper than %(max)s levels (CHANNEL_MAX_NESTING), so xSale "
                "did not read it."
            )
            % {"what": what, "max": max_depth}
        )
    if entries > max_entries:
        raise BoundExceeded(_too_many(what, max_entries))
    return entries


def _too_many(what: str, max_entries: int) -> str:
    return _(
        "%(what)s holds more than %(max)s entries, more than xSale reads at once "
        "(CHANNEL_MAX_ANSWER_ENTRIES, CHANNEL_MAX_DOCUMENT_ENTRIES for documents), so it was "
        "not read."
    ) % {"what": what, "max": f"{max_entries:,}"}


def parse_json(data: bytes | str, *, what: str):
    """A JSON answer already in memory (at most CHANNEL_MAX_ANSWER_BYTES), parsed within the
    bounds. Raises BoundExceeded past one, ValueError when it is not JSON."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    check_measure(raw, what=what, max_entries=settings.CHANNEL_MAX_ANSWER_ENTRIES)
    del raw
    if isinstance(data, bytes | bytearray):
        data = data.decode(json.detect_encoding(data), "replace")
    try:
        return _DECODER.decode(data.lstrip("\ufeff"))
    except BoundExceeded as exc:  # a number: its reason says which, this one whose
        raise BoundExceeded(f"{what}: {exc.reason}") from None
    except RecursionError:  # measure() already refused deeper nesting: a last resort
        raise BoundExceeded(_("%(what)s is nested too deeply.") % {"what": what}) from None


NOT_JSON = object()


def answer_json(response, *, what: str):
    """A channel's HTTP answer parsed within the bounds (once: kept on the response), or
    NOT_JSON. Raises BoundExceeded past a bound (every time it is asked)."""
    cached = getattr(response, "_bounded_json", None)
    if cached is None:
        content = response.content or b""
        try:
            if response.encoding and response.encoding.lower().replace("-", "") != "utf8":
                content = content.decode(response.encoding, "replace")
            cached = ("ok", parse_json(content, what=what))
        except BoundExceeded as exc:
            cached = ("bound", exc.reason)
        except (ValueError, LookupError):
            cached = ("ok", NOT_JSON)
        response._bounded_json = cached
    kind, value = cached
    if kind == "bound":
        raise BoundExceeded(value)
    return value


# --- JSON documents, streamed ------------------------------------------------------------------


def json_document(
    file, *, encoding: str, what: str, array: str, take: Callable[[object], None]
) -> dict:
    """A JSON object in a (large) binary file, read in chunks: each item of its top-level key
    `array` is given to `take` (and not kept here); the other keys are returned. Raises
    BoundExceeded past a bound (an item, the entries, the nesting, the time), ValueError when
    it is not such a JSON object."""
    reader = _Stream(file, encoding=encoding, what=what)
    reader.expect("{")
    result: dict = {}
    if reader.peek() == "}":
        reader.skip()
        return result
    while True:
        key = reader.value()
        if not isinstance(key, str):
            raise ValueError("a key is not a string")
        reader.expect(":")
        if key == array and reader.peek() == "[":
            reader.skip()
            if reader.peek() == "]":
                reader.skip()
            else:
                while True:
                    take(reader.value())
                    if reader.next_of(",]") == "]":
                        break
        else:
            result[key] = reader.value()
        if reader.next_of(",}") == "}":
            return result


class _Stream:
    def __init__(self, file, *, encoding: str, what: str):
        self.file, self.what = file, what
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.buffer, self.position, self.ended = "", 0, False
        self.entries = 0
        self.max_entries = settings.CHANNEL_MAX_DOCUMENT_ENTRIES
        self.seconds = settings.CHANNEL_DOCUMENT_SECONDS
        self.deadline = time.monotonic() + self.seconds
        self.started = True

    def _fill(self) -> bool:
        if self.ended:
            return False
        check_deadline(self.deadline, self.what, self.seconds)
        data = self.file.read(CHUNK)
        self.buffer = self.buffer[self.position :] + self.decoder.decode(data, final=not data)
        self.position = 0
        if self.started:
            self.buffer, self.started = self.buffer.lstrip("\ufeff"), False
        self.ended = not data
        return True

    def peek(self) -> str:
        while True:
            self.position = _SPACE.match(self.buffer, self.position).end()
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if not self._fill():
                return ""

    def skip(self) -> None:
        self.position += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r}")
        self.skip()

    def next_of(self, chars: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            raise ValueError(f"expected one of {chars!r}")
        self.skip()
        return char

    def value(self):
        """The JSON value at the position, within ITEM_MAX_CHARS and the document's entries."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.position)
            except BoundExceeded as exc:
                raise BoundExceeded(f"{self.what}: {exc.reason}") from None
            except RecursionError:
                raise BoundExceeded(
                    _("%(what)s is nested too deeply.") % {"what": self.what}
                ) from None
            except json.JSONDecodeError as exc:
                # Cut short by the buffer's end (read on), or not JSON at all.
                cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buffer) - 6
                if not cut or self.ended:
                    raise ValueError(str(exc)) from None
                value, end = NOT_JSON, None
            # A value that reaches the buffer's end may go on in the file (a number cut short).
            if end is not None and (end < len(self.buffer) or self.ended):
                break
            if len(self.buffer) - self.position > ITEM_MAX_CHARS:
                raise BoundExceeded(
                    _(
                        "An entry of %(what)s is larger than %(size)s MB, larger than any "
                        "real one, so xSale did not read it."
                    )
                    % {"what": self.what, "size": ITEM_MAX_CHARS // (1024 * 1024)}
                )
            self._fill()
        text = self.buffer[self.position : end]
        # Entries by the item's punctuation (an upper bound: a comma in a text counts too); its
        # nesting measured only when it has enough brackets to be too deep.
        containers = text.count("{") + text.count("[")
        self.entries += text.count(",") + containers + 1
        if containers > settings.CHANNEL_MAX_NESTING:
            check_measure(text.encode(), what=self.what, max_entries=self.max_entries)
        if self.entries > self.max_entries:
            raise BoundExceeded(_too_many(self.what, self.max_entries))
        self.position = end
        return value


def check_deadline(deadline: float, what: str, seconds: float) -> None:
    if time.monotonic() > deadline:
        raise BoundExceeded(
            _(
                "Reading %(what)s took longer than %(seconds)s s (CHANNEL_DOCUMENT_SECONDS), so "
                "xSale stopped reading it."
            )
            % {"what": what, "seconds": f"{seconds:g}"}
        )


# --- lines -------------------------------------------------------------------------------------


class Lines:
    """Bounds on a line document (a tab-separated report): every line at most
    CHANNEL_MAX_LINE_BYTES, at most CHANNEL_MAX_DOCUMENT_ENTRIES lines, read within
    CHANNEL_DOCUMENT_SECONDS from when the document is opened."""

    def __init__(self, what: str):
        self.what = what
        self.max_bytes = settings.CHANNEL_MAX_LINE_BYTES
        self.max_lines = settings.CHANNEL_MAX_DOCUMENT_ENTRIES
        self.seconds = settings.CHANNEL_DOCUMENT_SECONDS
        self.deadline = time.monotonic() + self.seconds

    def readline(self, file) -> bytes:
        """The next line of `file` (b"" at its end); BoundExceeded when it is too long."""
        line = file.readline(self.max_bytes + 1)
        if len(line) > self.max_bytes:
            raise self.too_long()
        return line

    def too_long(self) -> BoundExceeded:
        return BoundExceeded(
            _(
                "A line of %(what)s is longer than %(size)s KB (CHANNEL_MAX_LINE_BYTES), so "
                "xSale did not read it."
            )
            % {"what": self.what, "size": f"{self.max_bytes // 1024:,}"}
        )

    def count(self, file) -> int:
        """Non-blank lines from the file's position to its end, checked against every bound in
        chunks (bytes methods: a file of empty lines is counted at the speed of the disk)."""
        count = lines = 0
        pending, pending_text = 0, False  # the line the previous chunk ended in
        while chunk := file.read(CHUNK):
            check_deadline(self.deadline, self.what, self.seconds)
            lines += chunk.count(b"\n")
            if lines > self.max_lines:
                raise BoundExceeded(
                    _(
                        "%(what)s has more than %(max)s lines (CHANNEL_MAX_DOCUMENT_ENTRIES), "
                        "so xSale did not read it."
                    )
                    % {"what": self.what, "max": f"{self.max_lines:,}"}
                )
            parts = chunk.split(b"\n")
            pending += len(parts[0])
            pending_text = pending_text or bool(parts[0].strip())
            if len(parts) > 1:
                middle = parts[1:-1]
                if max(pending, *map(len, middle)) > self.max_bytes:
                    raise self.too_long()
                count += pending_text + sum(1 for part in middle if part.strip())
                pending, pending_text = len(parts[-1]), bool(parts[-1].strip())
            if pending > self.max_bytes:
                raise self.too_long()
        return count + pending_text

"""Amazon's documents (reports, feed processing reports): downloaded to a file, never to memory.

getReportDocument / getFeedDocument answer a presigned URL (valid 5 minutes) and, optionally,
`compressionAlgorithm: "GZIP"` (M: feeds_2021-06-30.json `FeedDocument`, reports_2021-06-30.json
`ReportDocument`). A GET_MERCHANT_LISTINGS_ALL_DATA report of a whole catalogue is legitimately
far larger than any API answer (CHANNEL_MAX_ANSWER_BYTES, 8 MiB: about 25,000 listings), yet it
is still outside input (docs/architecture.md, trust boundaries). So a document:

- is streamed to a temporary file, at most CHANNEL_MAX_DOCUMENT_BYTES of it (the HTTP client's
  `save_to`; a Content-Encoding is decoded and counted before it is written);
- when Amazon says GZIP, is inflated into a second temporary file, chunk by chunk, never past
  CHANNEL_MAX_DOCUMENT_BYTES of output (a small bomb cannot fill the disk);
- is read line by line (`TabDocument`: a tab-separated report, one row per line — Amazon's flat
  reports have no quoting), each page resuming at the byte where the last one stopped, under
  the bounds of bounded.py `Lines` (line length, number of lines, time): past one the document
  is refused like an oversized one (code OVERSIZED), with a reason naming the setting.

Its text is UTF-8 (with or without a BOM), else Windows-1252: Amazon does not state the EU
reports' encoding, so the whole file is checked once before any row is read.
"""

from __future__ import annotations

import codecs
import tempfile
import zlib

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.saleschannels.amazon.mapping import amazon_errors
from integrations.shopconnect.bounded import BoundExceeded, Lines
from integrations.shopconnect.common import json_or_empty
from integrations.shopconnect.errors import OVERSIZED, ChannelUnavailable
from integrations.shopconnect.http import ChannelClient
from xsale.urlsafety import UnsafeURL, check_url

CHUNK = 256 * 1024


def document_cap() -> int:
    return settings.CHANNEL_MAX_DOCUMENT_BYTES


def too_large(what: str) -> ChannelUnavailable:
    cap = document_cap()
    message = _(
        "%(what)s is larger than xSale reads (%(size)s MB, the setting "
        "CHANNEL_MAX_DOCUMENT_BYTES), so it was not read. Nothing was compared or taken as "
        "sent. If the catalogue on Amazon really is that large, raise the setting and try again."
    ) % {"what": what, "size": f"{cap / 1024 / 1024:,.0f}"}
    return ChannelUnavailable(message, http_status=200, attempts=1, code=OVERSIZED)


def refused(exc: BoundExceeded) -> ChannelUnavailable:
    """A document past a bound of bounded.py: refused like an oversized one (not asked again)."""
    message = _("%(reason)s Nothing was compared or taken as sent.") % {"reason": exc.reason}
    return ChannelUnavailable(message, http_status=200, attempts=1, code=OVERSIZED)


def download(client: ChannelClient, document_url: str, *, spend: dict, what: str):
    """The document behind getReportDocument / getFeedDocument `document_url`: an open binary
    temporary file of its (inflated) bytes, at position 0. The caller closes it. Raises
    ChannelUnavailable (code OVERSIZED past the cap, with a message naming `what`)."""
    response = client.request(
        "GET", document_url, spend=spend, headers={"Accept": "application/json"}
    )
    data = json_or_empty(response)
    url = data.get("url") if response.status_code == 200 and isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        code, message = amazon_errors(response)
        raise ChannelUnavailable(
            f"Amazon did not give the document: {message}",
            http_status=response.status_code,
            attempts=response.attempts,
            code=code or "document_refused",
        )
    try:
        check_url(url)
    except UnsafeURL as exc:
        raise ChannelUnavailable(
            f"Amazon's document address was refused: {exc}",
            http_status=200,
            attempts=1,
            code="unsafe_url",
        ) from None
    compression = data.get("compressionAlgorithm")
    if compression not in (None, "GZIP"):
        raise ChannelUnavailable(
            f"Amazon's document is compressed with {compression}, which xSale does not read.",
            http_status=200,
            attempts=1,
            code="unexpected_answer",
        )
    raw = tempfile.TemporaryFile(prefix="xsale-amazon-")  # noqa: SIM115 (returned open)
    try:
        try:
            body = client.request(
                "GET",
                url,
                authenticated=False,
                json_answer=False,
                save_to=raw,
                max_bytes=document_cap(),
            )
        except ChannelUnavailable as exc:
            raise too_large(what) if exc.code == "oversized_answer" else exc from None
        if body.status_code != 200:
            raise ChannelUnavailable(
                f"Amazon's document store answered {body.status_code} {body.reason}.",
                http_status=body.status_code,
                attempts=body.attempts,
                code="document_refused",
            )
        if compression == "GZIP":
            inflated = inflate(raw, what)
            raw.close()
            return inflated
        raw.seek(0)
        return raw
    except BaseException:
        raw.close()
        raise


def inflate(raw, what: str):
    """A GZIP file inflated into a new temporary file, never past the document cap."""
    cap = document_cap()
    out = tempfile.TemporaryFile(prefix="xsale-amazon-")  # noqa: SIM115 (returned open)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    written = 0
    raw.seek(0)
    try:
        while not inflater.eof and (data := raw.read(CHUNK)):
            while data:
                piece = inflater.decompress(data, CHUNK)
                written += len(piece)
                if written > cap:
                    raise too_large(what)
                out.write(piece)
                data = inflater.unconsumed_tail
        if not inflater.eof:
            raise zlib.error("the GZIP stream ends early")
    except zlib.error as exc:
        out.close()
        raise ChannelUnavailable(
            f"{what} is not valid GZIP ({exc}).", http_status=200, attempts=1,
            code="unexpected_answer",
        ) from None  # fmt: skip
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def text_encoding(file) -> str:
    """utf-8-sig when the whole file is UTF-8, else cp1252 (read once, in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    file.seek(0)
    try:
        while chunk := file.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        file.seek(0)
    return "utf-8-sig"


class TabDocument:
    """A tab-separated report in a file, read a page of rows at a time by row offset.

    Rows are lines (Amazon's flat reports quote nothing; a tab or line break inside a value
    is not possible there). The header line names the columns; `rows(offset, count)` yields
    each row as {column: value} and remembers where it stopped, so the next page starts
    there instead of reading the file again from the top."""

    def __init__(self, file, *, what: str = ""):
        self.file = file
        self.lines = Lines(what or _("Amazon's listings report"))
        self.encoding = text_encoding(file)
        try:
            header = self._line(self.lines.readline(file), first=True)
            self.columns = [name.strip().lower() for name in header.split("\t")] if header else []
            self._positions = {0: file.tell()}  # line offset → byte position of that line
            self.total = self.count()
        except BoundExceeded as exc:
            raise refused(exc) from None

    def _line(self, raw: bytes, *, first: bool = False) -> str:
        encoding = self.encoding if first else self.encoding.replace("-sig", "")
        return raw.decode(encoding, errors="replace").rstrip("\r\n")

    def count(self) -> int:
        """Data rows (non-empty lines after the header)."""
        self.file.seek(self._positions[0])
        return self.lines.count(self.file)

    def rows(self, offset: int, count: int):
        """The rows of the next `count` lines from line `offset` (after the header) as
        {column: value} (blank lines skipped), the offset after them, and whether the file
        ended there."""
        start = max(o for o in self._positions if o <= offset)
        self.file.seek(self._positions[start])
        try:
            return self._rows(start, offset, count)
        except BoundExceeded as exc:
            raise refused(exc) from None

    def _rows(self, start: int, offset: int, count: int):
        readline = self.lines.readline
        for __ in range(offset - start):  # a page asked out of order: walk from a known one
            if not readline(self.file):
                return [], offset, True
        rows, lines = [], 0
        while lines < count and (raw := readline(self.file)):
            lines += 1
            if raw.strip():
                rows.append(dict(zip(self.columns, self._line(raw).split("\t"), strict=False)))
        end = offset + lines
        position = self.file.tell()
        self._positions[end] = position
        ended = lines < count or not self.file.read(1)
        self.file.seek(position)
        return rows, end, ended

    def close(self) -> None:
        self.file.close()

"""A feed file imported a batch at a time (`import_lines`): its lines read within a size bound,
their photos read by a small pool of threads, each batch written once its lines or its photos'
bytes reach a bound, errors reported in line order."""

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from offers.importing.feed_photos import read_photo
from offers.importing.lines import LineError, OfferLine
from offers.importing.parsing import parse_line
from offers.importing.writing import Existing, write_batch_atomically
from xsale.numbers import number_display

# A batch is written once its downloaded photos take this much disk (or at `batch_size` lines).
MAX_PENDING_PHOTO_BYTES = 256 * 1024 * 1024
# Photos are read (downloaded, or copied from the feed's folder, then checked) by this many
# threads; at most this many are in flight (each bounded by PHOTO_MAX_BYTES on disk), so a
# batch's photos stay within the bound above plus PHOTO_DOWNLOAD_THREADS × PHOTO_MAX_BYTES.
PHOTO_DOWNLOAD_THREADS = 4


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _line_size(text) -> int:
    """A line's size in bytes, without its line end."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    return len(text.rstrip(b"\r\n"))


def bounded_lines(lines, max_bytes: int):
    """The lines of a file (or any iterable of lines), None in place of a line longer than
    `max_bytes`. From a file, at most `max_bytes` + 2 of a line is ever held: the rest of a
    long line is read and dropped in pieces of that size."""
    readline = getattr(lines, "readline", None)
    if readline is None:
        for text in lines:
            yield None if _line_size(text) > max_bytes else text
        return
    while text := readline(max_bytes + 2):
        if _line_size(text) <= max_bytes:
            yield text
            continue
        while text[-1:] not in ("\n", b"\n") and (text := readline(max_bytes + 2)):
            pass  # the rest of the long line, dropped
        yield None


def unreadable(exc: Exception) -> str:
    """Why a line that broke in a way no check foresaw could not be read."""
    return _("could not be read (%(error)s: %(reason)s)") % {
        "error": exc.__class__.__name__,
        "reason": exc,
    }


def _read_photo_in(language: str, ref: str, base_dir: Path):
    """read_photo in a thread of the pool, its errors worded in the import's language."""
    with translation.override(language):
        return read_photo(ref, base_dir)


def import_lines(lines, *, base_dir: Path, on_error=None, batch_size: int = 500) -> ImportReport:
    """Import an iterable of text lines (streamed: nothing holds the whole file).

    Errors are reported a batch at a time, in line order (a line's photo may fail after later
    lines were read)."""
    # By the lazy name: offers does not depend on integrations (docs/architecture.md, layers).
    integration_model = apps.get_model("integrations", "Integration")
    integrations_by_name = {i.name: i for i in integration_model.objects.all()}
    report = ImportReport()
    language = translation.get_language()  # the photo threads' errors are worded in it too
    pending: dict[str, tuple[int, OfferLine]] = {}  # sku -> (line number, line), in file order
    errors: list[tuple[int, str]] = []  # of the lines read since the last batch was written
    downloads: deque[Future] = deque()  # the batch's photo reads not yet in `photo_bytes`
    photo_bytes = 0  # the batch's photos on disk, as far as known

    def fail(number, reason):
        errors.append((number, reason))

    def report_errors():
        errors.sort(key=lambda error: error[0])
        for number, reason in errors:
            report.errors.append((number, reason))
            if on_error:
                on_error(number, reason)
        errors.clear()

    def count_downloads(block: bool) -> None:
        """Add the finished downloads' sizes; with `block`, first wait until fewer than
        PHOTO_DOWNLOAD_THREADS are in flight."""
        nonlocal photo_bytes
        if block and len(downloads) >= PHOTO_DOWNLOAD_THREADS:
            wait(downloads, return_when=FIRST_COMPLETED)
        still = [f for f in downloads if not f.done()]
        for future in downloads:
            if future.done() and not future.cancelled() and future.exception() is None:
                photo_bytes += future.result().size
        downloads.clear()
        downloads.extend(still)

    def write(ready: list[tuple[int, OfferLine]]) -> None:
        parsed = [line for _number, line in ready]
        try:
            created = write_batch_atomically(parsed, Existing.for_lines(parsed), pool)
        except Exception:  # noqa: BLE001 - unforeseen by the line checks: one line at a time
            created = []
            existing = Existing.for_lines(parsed)  # read again: what failed may have changed
            for number, line in ready:
                try:
                    created.extend(write_batch_atomically([line], existing, pool))
                except Exception as exc:  # a refusal of this line only
                    created.append(None)
                    fail(number, _("could not be saved (%(reason)s)") % {"reason": exc})
        report.created += sum(1 for flag in created if flag is True)
        report.updated += sum(1 for flag in created if flag is False)

    def flush():
        nonlocal photo_bytes
        try:
            ready = []
            for number, parsed in pending.values():
                try:
                    parsed.resolve_photos()
                except LineError as exc:
                    fail(number, str(exc))
                    continue
                except Exception as exc:  # whatever else breaks one line fails that line only
                    fail(number, unreadable(exc))
                    continue
                ready.append((number, parsed))
            if ready:
                write(ready)
        finally:
            for _number, parsed in pending.values():
                parsed.discard_photos()
            pending.clear()
            downloads.clear()
            photo_bytes = 0
            report_errors()

    def start_reading(ref: str) -> Future:
        count_downloads(block=True)
        future = pool.submit(_read_photo_in, language, ref, base_dir)
        downloads.append(future)
        return future

    max_line = settings.IMPORT_MAX_LINE_BYTES
    with ThreadPoolExecutor(PHOTO_DOWNLOAD_THREADS, thread_name_prefix="photo-download") as pool:
        try:
            for number, text in enumerate(bounded_lines(lines, max_line), 1):
                if text is None:
                    fail(
                        number,
                        _("is longer than %(max)s bytes (IMPORT_MAX_LINE_BYTES); skipped")
                        % {"max": number_display(max_line)},
                    )
                    continue
                if not text.strip():
                    continue
                try:
                    if isinstance(text, bytes):
                        try:
                            text = text.decode("utf-8")
                        except UnicodeDecodeError:
                            raise LineError(_("is not UTF-8 text")) from None
                    parsed = parse_line(
                        text,
                        base_dir=base_dir,
                        integrations_by_name=integrations_by_name,
                        start_reading=start_reading,
                    )
                    if parsed.sku in pending:
                        # A batch is read from the database once, so each SKU appears in it once.
                        flush()
                    pending[parsed.sku] = (number, parsed)
                except LineError as exc:
                    fail(number, str(exc))
                except Exception as exc:  # whatever else breaks one line fails that line only
                    fail(number, unreadable(exc))
                count_downloads(block=False)
                if len(pending) >= batch_size or photo_bytes > MAX_PENDING_PHOTO_BYTES:
                    flush()
            flush()
        finally:
            for _number, parsed in pending.values():  # an interrupted import leaves no files
                parsed.discard_photos()
    return report

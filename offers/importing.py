"""Importing offers from JSON Lines: one offer per line, upserted by SKU.

Each line is validated fully (including reading its photos) before anything of it is written:
a bad line imports nothing and the others still import. The lines that passed are written a
batch at a time, in sets (`write_batch`: a constant number of statements per batch, one
transaction); should a set statement fail for a reason no line check could foresee (a race on a
unique SKU, a database refusal), that batch is written again one line at a time, each line in
its own savepoint, so no line is lost and the failing one is named. Photos (downloaded by a
small pool of threads, or copied from the feed's folder after the checks in `_open_inside`)
wait for their batch in temporary files on disk, so memory does not grow with their number or
size.
"""

import json
import os
import re
import stat
import tempfile
from collections import defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from offers import outbox
from offers.bulk import insert_rows
from offers.downloads import DownloadError, download_photo
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto
from offers.photos import UnreadablePhoto, inspect_image, stored_name
from offers.services import LinkChange, offer_channels_set_active
from xsale.input import validate_visible_name

# A batch is written once its downloaded photos take this much disk (or at `batch_size` lines).
MAX_PENDING_PHOTO_BYTES = 256 * 1024 * 1024
# Photos are read (downloaded, or copied from the feed's folder, then checked) by this many
# threads; at most this many are in flight (each bounded by PHOTO_MAX_BYTES on disk), so a
# batch's photos stay within the bound above plus PHOTO_DOWNLOAD_THREADS × PHOTO_MAX_BYTES.
PHOTO_DOWNLOAD_THREADS = 4
# A file of the feed's folder is copied in pieces of this size: the threads' pieces together
# (4 × 256 KiB) are no more than the one 1 MiB piece read at a time before.
COPY_CHUNK_BYTES = 256 * 1024
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
EAN_RE = re.compile(r"^\d{8,14}$")


class LineError(ValueError):
    """A line that cannot be imported; the message says why, for the person who wrote the file."""


@dataclass
class PhotoData:
    path: Path  # the file to store: the feed's own, or a download's temporary file
    size: int
    sha256: str
    content_type: str
    temporary: bool = False

    def discard(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


@dataclass
class OfferLine:
    sku: str
    ean: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int
    parameters: list[tuple[str, str]]
    photos: list  # PhotoData, or a Future of one while its download runs
    channels: list[dict] = field(default_factory=list)

    def resolve_photos(self) -> None:
        """Wait for the line's downloads; the photos then stand in file order. Raises the
        first photo's error (in file order), having discarded every photo of the line."""
        error = None
        for i, photo in enumerate(self.photos):
            if isinstance(photo, Future):
                try:
                    self.photos[i] = photo.result()
                except Exception as exc:  # noqa: BLE001 - raised below, first in file order
                    error = error or exc
        if error is not None:
            self.discard_photos()
            raise error

    def discard_photos(self) -> None:
        for photo in self.photos:
            if isinstance(photo, Future):
                if photo.cancel():
                    continue
                try:
                    photo = photo.result()
                except Exception:  # noqa: BLE001, S112 - a failed download left no file
                    continue
            photo.discard()


def _text(data, key, *, required=False, max_length=None, default=""):
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise LineError(f'"{key}" must be a string')
    value = value.strip() if key != "description" else value
    if required and not value:
        raise LineError(f'"{key}" is missing')
    if max_length and len(value) > max_length:
        raise LineError(f'"{key}" is longer than {max_length} characters')
    return value


def _name(data) -> str:
    """The offer's name, refused when it holds invisible or text-direction characters (the
    validator the admin's and the pages' forms use too)."""
    name = _text(data, "name", required=True, max_length=255)
    try:
        validate_visible_name(name)
    except ValidationError as exc:
        raise LineError(f'"name": {exc.messages[0]}') from None
    return name


def _price(data):
    raw = data.get("price")
    if raw is None or isinstance(raw, bool):
        raise LineError('"price" is missing')
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        raise LineError(f'"price" is not a number: {raw!r}') from None
    if not price.is_finite() or price < 0:
        raise LineError(f'"price" must be 0 or more, got {raw}')
    if price != price.quantize(Decimal("0.01")) or price >= Decimal("1e10"):
        raise LineError(f'"price" must have at most 2 decimal places and 10 digits: {raw}')
    return price.quantize(Decimal("0.01"))


def _stock(data):
    raw = data.get("stock", 0)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise LineError(f'"stock" must be a whole number, got {raw!r}')
    if raw < 0:
        raise LineError(f'"stock" cannot be negative, got {raw}')
    return raw


def _parameters(data):
    raw = data.get("parameters") or []
    if not isinstance(raw, list):
        raise LineError('"parameters" must be a list')
    params = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise LineError(f"parameter {i} must be an object with name and value")
        name = _text(item, "name", required=True, max_length=255)
        value = item.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise LineError(f'parameter "{name}" has no value')
        params.append((name, value.strip()[:1000]))
    return params


def _is_url(ref) -> bool:
    return isinstance(ref, str) and urlparse(ref).scheme in ("http", "https")


def _read_photo(ref: str, base_dir: Path) -> PhotoData:
    if not isinstance(ref, str) or not ref.strip():
        raise LineError("a photo path must be a non-empty string")
    max_bytes = settings.PHOTO_MAX_BYTES
    photo = _download(ref) if _is_url(ref) else _copy_local(ref, base_dir)
    try:
        if photo.size > max_bytes:
            raise LineError(f"photo {ref} is larger than {max_bytes // (1024 * 1024)} MiB")
        try:
            with photo.path.open("rb") as fh:
                photo.sha256, photo.content_type = inspect_image(fh)
        except UnreadablePhoto as exc:
            raise LineError(f"photo {ref} is {exc}") from None
        except OSError as exc:
            raise LineError(f"photo {ref} cannot be read ({exc.strerror})") from None
    except BaseException:
        photo.discard()
        raise
    return photo


def _local_refused(ref: str) -> LineError:
    """The one answer for every local path xSale will not read, whatever the cause (missing,
    outside the folder, a link leading out, not a regular file): it never tells whether a path
    outside the feed's folder exists."""
    return LineError(
        f"photo {ref} cannot be read: a photo must be a regular file inside the feed's folder "
        '(no "..", no absolute path, no link leading out of the folder)'
    )


def _open_inside(ref: str, base_dir: Path) -> int:
    """Open `ref` for reading as a regular file inside `base_dir`; return its descriptor.

    The path is resolved (links inside the folder are followed) and must stay in the folder;
    then it is opened one component at a time from the folder, none of them allowed to be a
    link (O_NOFOLLOW): a link swapped in after the check cannot lead out. The file's type is
    checked before it is opened and again on the open descriptor, and it is opened
    non-blocking: a named pipe or a device is never read and never hangs the import.
    """
    relative = PurePosixPath(ref)
    if relative.is_absolute() or ".." in relative.parts or "\0" in ref:
        raise _local_refused(ref)
    base = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(base, ref))
    if os.path.commonpath([base, target]) != base or target == base:
        raise _local_refused(ref)
    *folders, name = Path(target).relative_to(base).parts
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    dir_fd = fd = -1
    try:
        dir_fd = os.open(base, flags | os.O_DIRECTORY)
        for folder in folders:
            inner = os.open(folder, flags | os.O_DIRECTORY, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = inner
        if not stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise _local_refused(ref)
        fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _local_refused(ref)
        os.set_blocking(fd, True)
        return fd
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        if isinstance(exc, OSError):
            raise _local_refused(ref) from None
        raise
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)


def _copy_local(ref: str, base_dir: Path) -> PhotoData:
    """A photo of the feed's folder, copied from the checked descriptor to a temporary file:
    what is stored later is what was checked, even if the folder changes meanwhile."""
    max_bytes = settings.PHOTO_MAX_BYTES
    fd = _open_inside(ref, base_dir)
    with os.fdopen(fd, "rb") as source:
        if os.fstat(source.fileno()).st_size > max_bytes:
            raise LineError(f"photo {ref} is larger than {max_bytes // (1024 * 1024)} MiB")
        tmp_fd, name = tempfile.mkstemp(prefix="xsale-photo-", dir=settings.FILE_UPLOAD_TEMP_DIR)
        path = Path(name)
        try:
            with os.fdopen(tmp_fd, "wb") as dest:
                copied = 0
                while chunk := source.read(min(COPY_CHUNK_BYTES, max_bytes + 1 - copied)):
                    dest.write(chunk)
                    copied += len(chunk)
                    if copied > max_bytes:
                        break
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise LineError(f"photo {ref} cannot be read ({exc.strerror})") from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return PhotoData(path=path, size=copied, sha256="", content_type="", temporary=True)


def _download(url: str) -> PhotoData:
    fd, name = tempfile.mkstemp(prefix="xsale-photo-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as dest:
            download_photo(url, dest)
            size = dest.tell()
    except DownloadError as exc:
        path.unlink(missing_ok=True)
        raise LineError(f"photo {url} could not be downloaded ({exc})") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return PhotoData(path=path, size=size, sha256="", content_type="", temporary=True)


def _channels(data, integrations_by_name):
    raw = data.get("channels") or []
    if not isinstance(raw, list):
        raise LineError('"channels" must be a list')
    channels = []
    for item in raw:
        if not isinstance(item, dict):
            raise LineError("each channel must be an object with integration, active, external_id")
        name = _text(item, "integration", required=True)
        integration = integrations_by_name.get(name)
        if integration is None:
            raise LineError(f'unknown integration "{name}"')
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise LineError(f'"active" of integration "{name}" must be true or false')
        external_id = item.get("external_id")
        if external_id is not None:
            external_id = str(external_id).strip()[:64]
        channels.append({"integration": integration, "active": active, "external_id": external_id})
    return channels


def parse_line(
    text: str, *, base_dir: Path, integrations_by_name: dict, start_reading=None
) -> OfferLine:
    """One line, validated. `start_reading(ref)`, when given, starts reading a photo (a URL's
    download, a file of the feed's folder) elsewhere and returns a Future of its PhotoData: the
    line's `photos` hold it in its place until `resolve_photos`. Without it every photo is read
    here."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"broken JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise LineError("a line must be a JSON object")
    ean = _text(data, "ean", max_length=14)
    if ean and not EAN_RE.match(ean):
        raise LineError(f'"ean" must be 8 to 14 digits, got {ean!r}')
    currency = _text(data, "currency", default="PLN").upper()
    if not CURRENCY_RE.match(currency):
        raise LineError(f'"currency" must be an ISO 4217 code like PLN, got {currency!r}')
    photos_raw = data.get("photos") or []
    if not isinstance(photos_raw, list):
        raise LineError('"photos" must be a list')
    if len(photos_raw) > settings.IMPORT_MAX_PHOTOS:
        raise LineError(
            f"has {len(photos_raw)} photos; an offer may have at most "
            f"{settings.IMPORT_MAX_PHOTOS} (IMPORT_MAX_PHOTOS)"
        )
    line = OfferLine(
        sku=_text(data, "sku", required=True, max_length=64),
        ean=ean,
        name=_name(data),
        description=_text(data, "description"),
        price=_price(data),
        currency=currency,
        stock=_stock(data),
        parameters=_parameters(data),
        photos=[],
        channels=_channels(data, integrations_by_name),
    )
    try:
        for ref in photos_raw:
            if start_reading is not None:
                line.photos.append(start_reading(ref))
            else:
                line.photos.append(_read_photo(ref, base_dir))
    except BaseException:
        line.discard_photos()
        raise
    return line


OFFER_FIELDS = ("ean", "name", "description", "price", "currency", "stock")


@dataclass
class Existing:
    """What the database holds for one batch of lines, read in four queries."""

    offers: dict  # sku -> Offer
    parameters: dict  # offer_id -> [OfferParameter]
    photos: dict  # offer_id -> [OfferPhoto]
    links: dict  # (offer_id, integration_id) -> OfferChannel

    @classmethod
    def for_lines(cls, lines: list[OfferLine]) -> "Existing":
        offers = {o.sku: o for o in Offer.objects.filter(sku__in=[line.sku for line in lines])}
        ids = [o.pk for o in offers.values()]
        parameters, photos = defaultdict(list), defaultdict(list)
        for p in OfferParameter.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            parameters[p.offer_id].append(p)
        for p in OfferPhoto.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            photos[p.offer_id].append(p)
        links = {
            (link.offer_id, link.integration_id): link
            for link in OfferChannel.objects.filter(offer_id__in=ids)
        }
        return cls(offers=offers, parameters=parameters, photos=photos, links=links)


def _plan_photos(offer_id: int, photos: list[PhotoData], existing: list[OfferPhoto]):
    """What an offer's photos need to become the line's: (new rows, rows moved, rows dropped).
    A photo already there (same content) keeps its row and file, at the line's position."""
    if [p.sha256 for p in existing] == [p.sha256 for p in photos]:
        return [], [], []
    by_sha = {}
    for old in existing:
        by_sha.setdefault(old.sha256, []).append(old)
    new, moved = [], []
    for position, photo in enumerate(photos):
        reusable = by_sha.get(photo.sha256)
        if reusable:
            old = reusable.pop(0)
            if old.position != position:
                old.position = position
                moved.append(old)
            continue
        new.append((photo, OfferPhoto(offer_id=offer_id, position=position, sha256=photo.sha256,
                                      content_type=photo.content_type)))  # fmt: skip
    return new, moved, [old for leftovers in by_sha.values() for old in leftovers]


def write_batch(
    lines: list[OfferLine], existing: Existing, *, stored: list, pool=None
) -> list[bool]:
    """Write parsed lines (each SKU once) in sets, touching only what differs; returns, per
    line, whether it created the offer. `existing` holds the state before the batch.

    A constant number of statements whatever the number of lines (plus one file written to
    the storage per new photo, by the threads of `pool` when given, its name appended to
    `stored` so a caller whose transaction fails can remove it). The caller runs it in one
    transaction: this is the one place a batch is written, where whatever else a change of the
    catalogue must write can be added. Files of dropped photos are deleted once the
    transaction commits.
    """
    now = timezone.now()
    offer_ids, new_rows, changed = [], [], defaultdict(list)  # changed: fields -> offers
    for line in lines:
        offer = existing.offers.get(line.sku)
        if offer is None:
            new_rows.append((line.sku, *(getattr(line, name) for name in OFFER_FIELDS)))
            offer_ids.append(None)
            continue
        fields = tuple(n for n in OFFER_FIELDS if getattr(offer, n) != getattr(line, n))
        if fields:
            for name in fields:
                setattr(offer, name, getattr(line, name))
            offer.updated_at = now
            changed[fields].append(offer)
        offer_ids.append(offer.pk)
    created_ids = set()
    if new_rows:
        stamp = connection.ops.adapt_datetimefield_value(now)
        ids = dict(
            insert_rows(
                Offer,
                ["sku", *OFFER_FIELDS, "updated_at"],
                [(*row, stamp) for row in new_rows],
                returning=("sku", "id"),
            )
        )
        created_ids = set(ids.values())
        offer_ids = [
            ids[line.sku] if pk is None else pk for line, pk in zip(lines, offer_ids, strict=True)
        ]
    for fields, group in changed.items():
        Offer.objects.bulk_update(group, [*fields, "updated_at"])

    stale, parameters = [], []
    new_photos, moved, dropped = [], [], []
    links = []
    for line, offer_id in zip(lines, offer_ids, strict=True):
        if [(p.name, p.value) for p in existing.parameters.get(offer_id, [])] != line.parameters:
            if offer_id not in created_ids:
                stale.append(offer_id)
            parameters.extend((offer_id, n, v, i) for i, (n, v) in enumerate(line.parameters))
        new, moved_here, dropped_here = _plan_photos(
            offer_id, line.photos, existing.photos.get(offer_id, [])
        )
        new_photos.extend(new)
        moved.extend(moved_here)
        dropped.extend(dropped_here)
        for channel in line.channels:
            link = existing.links.get((offer_id, channel["integration"].pk))
            unchanged = (
                link is not None
                and link.active == channel["active"]
                and channel["external_id"] in (None, link.external_id)
            )
            if not unchanged:
                links.append(
                    LinkChange(
                        offer_id,
                        channel["integration"].pk,
                        channel["active"],
                        channel["external_id"],
                    )
                )
    _store_files(new_photos, stored, pool)
    if stale:
        OfferParameter.objects.filter(offer_id__in=stale).delete()
    insert_rows(OfferParameter, ["offer_id", "name", "value", "position"], parameters)
    insert_rows(
        OfferPhoto,
        ["offer_id", "image", "position", "sha256", "content_type"],
        [(p.offer_id, p.image.name, p.position, p.sha256, p.content_type) for _, p in new_photos],
    )
    OfferPhoto.objects.bulk_update(moved, ["position"])
    if dropped:
        OfferPhoto.objects.filter(pk__in=[p.pk for p in dropped]).delete()
        files = [(p.image.storage, p.image.name) for p in dropped if p.image.name]
        transaction.on_commit(lambda: _delete_files(files))
    # Links are (de)activated by the catalogue's one rule, here for the whole batch at once.
    offer_channels_set_active(links)
    # What changed becomes everyday sync's pending work, in this transaction (offers/outbox.py).
    photo_rows = [row for _, row in new_photos] + moved + dropped
    outbox.record_changes(outbox.batch_changes(changed, stale, {p.offer_id for p in photo_rows}))
    return [offer_id in created_ids for offer_id in offer_ids]


def _store_files(photos: list[tuple[PhotoData, OfferPhoto]], stored: list, pool=None) -> None:
    """Each new photo's file into the storage, under its content's name; by the threads of
    `pool` when given (the storage's writes wait on the disk, not on Python). Each stored file
    is appended to `stored`, even when another one fails."""

    def store(photo: PhotoData, row: OfferPhoto) -> None:
        with photo.path.open("rb") as fh:
            row.image.save(stored_name(photo.sha256, photo.content_type), File(fh), save=False)
        stored.append((row.image.storage, row.image.name))

    if pool is None or len(photos) < 2:
        for photo, row in photos:
            store(photo, row)
        return
    futures = [pool.submit(store, photo, row) for photo, row in photos]
    wait(futures)
    for future in futures:
        future.result()  # the first failure, once every write has ended


def _delete_files(files) -> None:
    for storage, name in files:
        storage.delete(name)


def write_batch_atomically(lines: list[OfferLine], existing: Existing, pool=None) -> list[bool]:
    """`write_batch` in one transaction; on failure the photo files it stored are removed."""
    stored = []
    try:
        with transaction.atomic():
            return write_batch(lines, existing, stored=stored, pool=pool)
    except BaseException:
        _delete_files(stored)
        raise


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


def import_lines(lines, *, base_dir: Path, on_error=None, batch_size: int = 500) -> ImportReport:
    """Import an iterable of text lines (streamed: nothing holds the whole file).

    Errors are reported a batch at a time, in line order (a line's photo may fail after later
    lines were read)."""
    # By the lazy name: offers does not depend on integrations (docs/architecture.md, layers).
    integration_model = apps.get_model("integrations", "Integration")
    integrations_by_name = {i.name: i for i in integration_model.objects.all()}
    report = ImportReport()
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
        parsed = [line for _, line in ready]
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
                    fail(number, f"could not be saved ({exc})")
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
                    fail(number, f"could not be read ({exc.__class__.__name__}: {exc})")
                    continue
                ready.append((number, parsed))
            if ready:
                write(ready)
        finally:
            for _, parsed in pending.values():
                parsed.discard_photos()
            pending.clear()
            downloads.clear()
            photo_bytes = 0
            report_errors()

    def start_reading(ref: str) -> Future:
        count_downloads(block=True)
        future = pool.submit(_read_photo, ref, base_dir)
        downloads.append(future)
        return future

    max_line = settings.IMPORT_MAX_LINE_BYTES
    with ThreadPoolExecutor(PHOTO_DOWNLOAD_THREADS, thread_name_prefix="photo-download") as pool:
        try:
            for number, text in enumerate(bounded_lines(lines, max_line), 1):
                if text is None:
                    fail(
                        number,
                        f"is longer than {max_line:,} bytes (IMPORT_MAX_LINE_BYTES); skipped",
                    )
                    continue
                if not text.strip():
                    continue
                try:
                    if isinstance(text, bytes):
                        try:
                            text = text.decode("utf-8")
                        except UnicodeDecodeError:
                            raise LineError("is not UTF-8 text") from None
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
                    fail(number, f"could not be read ({exc.__class__.__name__}: {exc})")
                count_downloads(block=False)
                if len(pending) >= batch_size or photo_bytes > MAX_PENDING_PHOTO_BYTES:
                    flush()
            flush()
        finally:
            for _, parsed in pending.values():  # an interrupted import leaves no files
                parsed.discard_photos()
    return report

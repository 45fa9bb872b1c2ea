"""A photo of a feed line read into a temporary file and checked: downloaded (a URL), or copied
from the feed's folder after the checks in `_open_inside` (a path)."""

import os
import stat
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from django.conf import settings
from django.utils.translation import gettext as _

from offers.downloads import DownloadError, download_photo
from offers.importing.lines import LineError, PhotoData
from offers.photos import UnreadablePhoto, inspect_image

# A file of the feed's folder is copied in pieces of this size: the threads' pieces together
# (4 × 256 KiB) are no more than the one 1 MiB piece read at a time before.
COPY_CHUNK_BYTES = 256 * 1024


def _is_url(ref) -> bool:
    return isinstance(ref, str) and urlparse(ref).scheme in ("http", "https")


def read_photo(ref: str, base_dir: Path) -> PhotoData:
    """A line's photo `ref` (a URL, or a path in the feed's folder `base_dir`) in a temporary
    file, its size, hash and type checked; LineError says why it cannot be."""
    if not isinstance(ref, str) or not ref.strip():
        raise LineError(_("a photo path must be a non-empty string"))
    max_bytes = settings.PHOTO_MAX_BYTES
    photo = _download(ref) if _is_url(ref) else _copy_local(ref, base_dir)
    try:
        if photo.size > max_bytes:
            raise _too_large(ref, max_bytes)
        try:
            with photo.path.open("rb") as fh:
                photo.sha256, photo.content_type = inspect_image(fh)
        except UnreadablePhoto as exc:
            raise LineError(
                _("photo %(ref)s is %(reason)s") % {"ref": ref, "reason": exc}
            ) from None
        except OSError as exc:
            raise _unreadable(ref, exc) from None
    except BaseException:
        photo.discard()
        raise
    return photo


def _local_refused(ref: str) -> LineError:
    """The one answer for every local path xSale will not read, whatever the cause (missing,
    outside the folder, a link leading out, not a regular file): it never tells whether a path
    outside the feed's folder exists."""
    return LineError(
        _(
            "photo %(ref)s cannot be read: a photo must be a regular file inside the feed's "
            'folder (no "..", no absolute path, no link leading out of the folder)'
        )
        % {"ref": ref}
    )


def _too_large(ref: str, max_bytes: int) -> LineError:
    return LineError(
        _("photo %(ref)s is larger than %(mib)s MiB") % {"ref": ref, "mib": max_bytes // 2**20}
    )


def _unreadable(ref: str, exc: OSError) -> LineError:
    return LineError(
        _("photo %(ref)s cannot be read (%(reason)s)") % {"ref": ref, "reason": exc.strerror}
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
            raise _too_large(ref, max_bytes)
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
            raise _unreadable(ref, exc) from None
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
        raise LineError(
            _("photo %(ref)s could not be downloaded (%(reason)s)") % {"ref": url, "reason": exc}
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return PhotoData(path=path, size=size, sha256="", content_type="", temporary=True)

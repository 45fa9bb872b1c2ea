"""Reading photo files: hash and real content type, refusing what is not an image.

A photo is kept only when Pillow decodes it as JPEG, PNG, WebP or GIF (what the channels take).
Its file is stored under a name made of its content's SHA-256 and the extension of the format
decoded, never the name it came with: a file that is also HTML or script (a GIF polyglot) is
stored as .gif and served as image/gif (offers/media.py), so no browser treats it as a page.
"""

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from offers.hashing import file_sha256

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
# 40 megapixels (e.g. 8000 × 5000): far above what a channel shows, far below a pixel bomb.
MAX_PIXELS = 40_000_000


class UnreadablePhoto(ValueError):
    pass


def inspect_image(fileobj) -> tuple[str, str]:
    """Return (sha256, content_type) of an image file; raise UnreadablePhoto otherwise."""
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UnreadablePhoto(
                    _(
                        "too large an image (%(width)s × %(height)s pixels, at most "
                        "%(max)s megapixels)"
                    )
                    % {"width": img.width, "height": img.height, "max": MAX_PIXELS // 1_000_000}
                )
            img.verify()
            fmt = img.format
    except Image.DecompressionBombError:
        raise UnreadablePhoto(_("too large an image (a decompression bomb)")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UnreadablePhoto):
            raise
        if isinstance(exc, UnidentifiedImageError):  # its text names the file: not for sellers
            raise UnreadablePhoto(_("not a readable image (not a JPEG, PNG, WebP or GIF)")) from exc
        raise UnreadablePhoto(_("not a readable image (%(reason)s)") % {"reason": exc}) from exc
    if fmt not in CONTENT_TYPES:
        raise UnreadablePhoto(_("unsupported image format %(format)s") % {"format": fmt})
    fileobj.seek(0)
    sha = file_sha256(fileobj)
    fileobj.seek(0)
    return sha, CONTENT_TYPES[fmt]


def stored_name(sha256: str, content_type: str) -> str:
    """The file name a photo is stored under: its content hash and its decoded format."""
    return f"{sha256}.{EXTENSIONS[content_type]}"

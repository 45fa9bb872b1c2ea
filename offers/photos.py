"""Reading photo files: hash and real content type, refusing what is not an image."""

from PIL import Image, UnidentifiedImageError

from offers.hashing import file_sha256

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class UnreadablePhoto(ValueError):
    pass


def inspect_image(fileobj) -> tuple[str, str]:
    """Return (sha256, content_type) of an image file; raise UnreadablePhoto otherwise."""
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            img.verify()
            fmt = img.format
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnreadablePhoto(f"not a readable image ({exc})") from exc
    if fmt not in CONTENT_TYPES:
        raise UnreadablePhoto(f"unsupported image format {fmt}")
    fileobj.seek(0)
    sha = file_sha256(fileobj)
    fileobj.seek(0)
    return sha, CONTENT_TYPES[fmt]

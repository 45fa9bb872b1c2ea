"""Offer photos from MEDIA_ROOT, served only as the image type their name says.

Served by Django (no other web server in the embedded setup, and a channel fetches photos from
here). Photos are stored under a content hash and the extension of the format Pillow decoded
(offers/photos.py); anything else in MEDIA_ROOT is not served. The headers keep a browser from
ever treating a photo as a page or a script, whatever bytes it holds.
"""

import re
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import Http404
from django.utils.encoding import filepath_to_uri
from django.utils.functional import LazyObject, empty
from django.views.static import serve

from offers.photos import EXTENSIONS

CONTENT_TYPE_BY_EXTENSION = {ext: ctype for ctype, ext in EXTENSIONS.items()} | {
    "jpeg": "image/jpeg"
}
# No script, no plug-in, no form, no navigation: an opened photo is an inert document.
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def serve_photo(request, path):
    extension = PurePosixPath(path).suffix.lower().lstrip(".")
    content_type = CONTENT_TYPE_BY_EXTENSION.get(extension)
    if content_type is None:
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Content-Type"] = content_type
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# What filepath_to_uri leaves unchanged: quote's unreserved characters and its safe "/~!*()'".
URI_SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-~/!*()']*")


def photo_url(image) -> str:
    """`image.url` of a photo's FieldFile, the same text: on the file system storage built
    without `urljoin`, whose parsing was most of a photo's cost in a resync's payload (a chunk
    names hundreds). The file's URI path (`filepath_to_uri` quotes ":", "?", "#" and "%") joins
    a base URL ending in "/" as plain text unless it holds a "." or ".." segment, which
    `urljoin` resolves: those, and other storages, go the storage's way."""
    storage = image.storage
    if isinstance(storage, LazyObject):  # default_storage: each attribute through its proxy
        if storage._wrapped is empty:
            storage._setup()
        storage = storage._wrapped
    if isinstance(storage, FileSystemStorage):
        base = storage.base_url
        name = image.name
        # A name of characters `quote` keeps as they are is its own URI path (most are: a
        # content hash and an extension); any other goes through filepath_to_uri.
        relative = (name if URI_SAFE_NAME.fullmatch(name) else filepath_to_uri(name)).lstrip("/")
        if (
            relative
            and base.endswith("/")
            and not (";" in base or "?" in base or "#" in base)
            # A "." or ".." segment starts with "." after a "/": only then are they looked for.
            and not ("/." in f"/{relative}" and {".", ".."}.intersection(relative.split("/")))
        ):
            return base + relative
    return image.url

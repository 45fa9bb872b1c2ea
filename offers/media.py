"""Offer photos from MEDIA_ROOT, served only as the image type their name says.

Served by Django (no other web server in the embedded setup, and a channel fetches photos from
here). Photos are stored under a content hash and the extension of the format Pillow decoded
(offers/photos.py); anything else in MEDIA_ROOT is not served. The headers keep a browser from
ever treating a photo as a page or a script, whatever bytes it holds.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.http import Http404
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

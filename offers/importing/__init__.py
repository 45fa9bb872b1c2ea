"""Importing offers from JSON Lines: one offer per line, upserted by SKU.

Each line is validated fully (including reading its photos) before anything of it is written:
a bad line imports nothing and the others still import. The lines that passed are written a
batch at a time, in sets (`write_batch`: a constant number of statements per batch, one
transaction); should a set statement fail for a reason no line check could foresee (a race on a
unique SKU, a database refusal), that batch is written again one line at a time, each line in
its own savepoint, so no line is lost and the failing one is named. Photos (downloaded by a
small pool of threads, or copied from the feed's folder after the checks of feed_photos.py)
wait for their batch in temporary files on disk, so memory does not grow with their number or
size.

The modules, in the order a line goes through them: feed.py (the file read a batch at a time,
`import_lines`), parsing.py (one line checked, `parse_line`), feed_photos.py (a photo read: a
download, or a file of the feed's folder), writing.py (a batch written, `write_batch`);
lines.py holds what they pass each other.
"""

from offers.importing.feed import (
    MAX_PENDING_PHOTO_BYTES,
    PHOTO_DOWNLOAD_THREADS,
    ImportReport,
    bounded_lines,
    import_lines,
)
from offers.importing.lines import LineError, OfferLine, PhotoData
from offers.importing.parsing import parse_line
from offers.importing.writing import Existing, write_batch, write_batch_atomically

__all__ = [
    "MAX_PENDING_PHOTO_BYTES",
    "PHOTO_DOWNLOAD_THREADS",
    "Existing",
    "ImportReport",
    "LineError",
    "OfferLine",
    "PhotoData",
    "bounded_lines",
    "import_lines",
    "parse_line",
    "write_batch",
    "write_batch_atomically",
]

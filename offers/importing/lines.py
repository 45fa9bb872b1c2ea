"""What the import's steps pass each other: a line checked (`OfferLine`), a photo read
(`PhotoData`), and the error that refuses a line (`LineError`)."""

from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


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

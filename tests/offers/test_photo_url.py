"""A photo's URL in a resync's payload (offers.media.photo_url) is the text `image.url` gives,
whatever the file's name and the storage's base URL: built without urljoin where that is the
same text, the storage's own way where it is not."""

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.db.models.fields.files import FieldFile

from offers.media import photo_url
from offers.models import OfferPhoto

NAMES = [
    "photos/ab/abcdef0123456789.jpg",
    "/photos/leading-slash.png",
    "zdjęcia/żółw ze spacją.webp",
    "a:b/colon-first.jpg",
    "what?/query#frag.gif",
    "per%cent/100%.jpg",
    "photos/./dot.jpg",
    "photos/../up.jpg",
    "../../outside.jpg",
    "./here.jpg",
    "photos/.hidden/..x/x...jpg",
    "back\\slash\\name.jpg",
    "//two/slashes.jpg",
    "semi;colon/a.jpg",
]
BASES = [
    None,  # settings.MEDIA_URL
    "/media/",
    "/media",
    "https://cdn.example.com/shop/media/",
    "https://cdn.example.com",
    "/m/;params/",
    "/m/?q=1/",
    "",
]


@pytest.mark.parametrize("base", BASES)
def test_a_photo_url_is_the_storages_own(base, settings, tmp_path):
    storage = FileSystemStorage(location=tmp_path, base_url=base)
    for name in NAMES:
        file = FieldFile(OfferPhoto(), OfferPhoto._meta.get_field("image"), name)
        file.storage = storage
        assert photo_url(file) == file.url == storage.url(name), name


def test_another_storage_gives_its_own_url():
    class Elsewhere(InMemoryStorage):
        def url(self, name):
            return f"https://elsewhere.example.com/x/{name}?signed=1"

    file = FieldFile(OfferPhoto(), OfferPhoto._meta.get_field("image"), "photos/a.jpg")
    file.storage = Elsewhere()
    assert photo_url(file) == "https://elsewhere.example.com/x/photos/a.jpg?signed=1"


def test_a_stored_photo_url_as_the_model_gives_it():
    photo = OfferPhoto(image="photos/ab/abc.jpg")
    assert photo_url(photo.image) == photo.image.url

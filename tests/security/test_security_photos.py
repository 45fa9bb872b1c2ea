"""Issue #9, finding 1: a photo is stored and served as the image it is, never as HTML or JS."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from offers.models import Offer
from tests.import_files import offer_line, run_import

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><body><script>document.title='pwned'</script></body></html>"


def polyglot_gif() -> bytes:
    """A valid GIF whose bytes are also an HTML page with a script (in a GIF comment)."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (250, 10, 10)).save(buf, "GIF", comment=SCRIPT)
    data = buf.getvalue()
    assert SCRIPT in data and Image.open(io.BytesIO(data)).format == "GIF"
    return data


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", None))
    return client


def media_url(photo) -> str:
    return photo.image.url


def assert_stored_under_its_content_name(photo):
    # The storage adds a suffix when the same content is already stored under that name.
    name = photo.image.name.rsplit("/", 1)[1]
    assert name.startswith(photo.sha256) and name.endswith(".gif"), name


def assert_served_as_a_gif(client, photo, content: bytes):
    response = client.get(media_url(photo))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == content


@pytest.mark.parametrize("name", ["x.html", "x.js"])
def test_an_imported_polyglot_is_stored_and_served_as_a_gif(
    client, write_jsonl, tmp_path, photo_host, name
):
    content = polyglot_gif()
    folder, base = photo_host
    (folder / name).write_bytes(content)
    (tmp_path / name).write_bytes(content)
    path = write_jsonl(
        [offer_line("URL", photos=[f"{base}/{name}"]), offer_line("FILE", photos=[name])]
    )
    code, _, err = run_import(path)
    assert code == 0, err
    for sku in ("URL", "FILE"):
        photo = Offer.objects.get(sku=sku).photos.get()
        assert photo.content_type == "image/gif"
        assert_stored_under_its_content_name(photo)
        assert_served_as_a_gif(client, photo, content)


def offer_admin_form(**photo) -> dict:
    data = {
        "sku": "ADM-1",
        "ean": "",
        "name": "Kubek",
        "description": "",
        "price": "10.00",
        "currency": "PLN",
        "stock": "1",
        "photos-INITIAL_FORMS": "0",
        "photos-MIN_NUM_FORMS": "0",
        "photos-MAX_NUM_FORMS": "1000",
        "photos-TOTAL_FORMS": "1",
        "photos-0-position": "0",
    }
    for inline in ("parameters", "channels"):
        data.update(
            {
                f"{inline}-TOTAL_FORMS": "0",
                f"{inline}-INITIAL_FORMS": "0",
                f"{inline}-MIN_NUM_FORMS": "0",
                f"{inline}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update({f"photos-0-{k}": v for k, v in photo.items()})
    return data


@pytest.mark.parametrize("name", ["x.html", "x.js"])
def test_an_uploaded_polyglot_is_stored_and_served_as_a_gif(staff_client, name):
    content = polyglot_gif()
    upload = SimpleUploadedFile(name, content, content_type="text/html")
    response = staff_client.post(reverse("admin:offers_offer_add"), offer_admin_form(image=upload))
    assert response.status_code == 302, response.content.decode()[-3000:]
    photo = Offer.objects.get(sku="ADM-1").photos.get()
    assert photo.content_type == "image/gif"
    assert_stored_under_its_content_name(photo)
    assert_served_as_a_gif(staff_client, photo, content)


def test_an_upload_that_is_not_an_image_is_refused_with_a_field_error(staff_client):
    upload = SimpleUploadedFile("x.jpg", SCRIPT, content_type="image/jpeg")
    response = staff_client.post(reverse("admin:offers_offer_add"), offer_admin_form(image=upload))
    assert response.status_code == 200
    assert "JPEG, PNG, WebP" in response.content.decode()
    assert not Offer.objects.exists()


@pytest.mark.parametrize("name", ["old/x.html", "old/x.js", "old/x.svg", "old/noext"])
def test_media_that_is_not_a_photo_name_is_not_served(client, name):
    default_storage.save(name, ContentFile(polyglot_gif()))
    assert client.get(f"/media/{name}").status_code == 404


def test_a_legacy_photo_with_a_wrong_extension_is_still_served_as_an_image(client):
    name = default_storage.save("old/x.jpg", ContentFile(polyglot_gif()))
    response = client.get(f"/media/{name}")
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_allow_scripts_from_static_only_not_from_media(client):
    policy = client.get(reverse("login"))["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "http://testserver/static/"
    assert "'self'" not in directives["script-src"]
    assert "/media/" not in policy
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"

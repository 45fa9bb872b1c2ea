import json

import pytest

from offers.hashing import photo_set_hash
from offers.models import Offer, OfferChannel, SiteJournal
from tests.catalogue import image_bytes
from tests.import_files import offer_line, run_import

pytestmark = pytest.mark.django_db


def test_it_imports_good_lines_with_parameters_photos_and_channels(
    write_jsonl, tmp_path, make_integration
):
    allegro = make_integration(name="Allegro PL")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(image_bytes((255, 0, 0)))
    (tmp_path / "img" / "b.png").write_bytes(image_bytes((0, 255, 0), fmt="PNG"))
    path = write_jsonl(
        [
            offer_line(
                photos=["img/a.jpg", "img/b.png"],
                channels=[{"integration": "Allegro PL", "active": True, "external_id": "7712"}],
            ),
            offer_line("SKU-2", name="Talerz", price=15, stock=0),
        ]
    )
    code, out, err = run_import(path)
    assert code == 0, err
    assert "2 offers" in out
    offer = Offer.objects.get(sku="SKU-1")
    assert str(offer.price) == "129.99"
    assert offer.stock == 7
    assert [(p.name, p.value) for p in offer.parameters.all()] == [
        ("Kolor", "biały"),
        ("Pojemność", "350 ml"),
    ]
    photos = list(offer.photos.all())
    assert [p.content_type for p in photos] == ["image/jpeg", "image/png"]
    assert all(len(p.sha256) == 64 for p in photos)
    link = OfferChannel.objects.get(offer=offer)
    assert (link.integration, link.active, link.external_id) == (allegro, True, "7712")
    assert str(Offer.objects.get(sku="SKU-2").price) == "15.00"


def test_reimporting_the_same_file_changes_no_hash_and_no_file(write_jsonl, tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes((1, 2, 3)))
    (tmp_path / "b.jpg").write_bytes(image_bytes((4, 5, 6)))
    path = write_jsonl([offer_line(photos=["a.jpg", "b.jpg"])])
    assert run_import(path)[0] == 0
    offer = Offer.objects.get(sku="SKU-1")
    before = [(p.pk, p.image.name, p.sha256) for p in offer.photos.all()]
    hash_before = offer.photos_hash()
    assert run_import(path)[0] == 0
    after = [(p.pk, p.image.name, p.sha256) for p in offer.photos.all()]
    assert after == before
    assert offer.photos_hash() == hash_before == photo_set_hash(s for _, _, s in before)


def test_reimport_replaces_photos_and_parameters_by_what_the_line_says(write_jsonl, tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes((1, 2, 3)))
    (tmp_path / "b.jpg").write_bytes(image_bytes((4, 5, 6)))
    (tmp_path / "c.jpg").write_bytes(image_bytes((7, 8, 9)))
    assert run_import(write_jsonl([offer_line(photos=["a.jpg", "b.jpg"])]))[0] == 0
    offer = Offer.objects.get(sku="SKU-1")
    old_hash = offer.photos_hash()
    kept = offer.photos.get(position=1)
    line = offer_line(
        photos=["b.jpg", "c.jpg"], parameters=[{"name": "Kolor", "value": "czarny"}], stock=3
    )
    assert run_import(write_jsonl([line], name="second.jsonl"))[0] == 0
    offer.refresh_from_db()
    photos = list(offer.photos.all())
    assert len(photos) == 2
    assert photos[0].pk == kept.pk  # b.jpg kept its row and file, moved to position 0
    assert offer.photos_hash() != old_hash
    assert [(p.name, p.value) for p in offer.parameters.all()] == [("Kolor", "czarny")]
    assert offer.stock == 3


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        ('{"sku": "X", "name": ', "broken JSON"),
        (json.dumps(offer_line(name="")), '"name" is missing'),
        (json.dumps({k: v for k, v in offer_line().items() if k != "name"}), '"name" is missing'),
        (json.dumps(offer_line(stock=-1)), '"stock" cannot be negative'),
        (json.dumps(offer_line(price="-5")), '"price" must be 0 or more'),
        (json.dumps(offer_line(price="abc")), '"price" is not a number'),
        (
            json.dumps(offer_line(channels=[{"integration": "Nope", "active": True}])),
            'unknown integration "Nope"',
        ),
        (json.dumps(offer_line(photos=["missing.jpg"])), "photo missing.jpg cannot be read"),
        (json.dumps(offer_line(photos=["notimage.jpg"])), "photo notimage.jpg is not a readable"),
    ],
)
def test_a_bad_line_is_reported_with_its_number_and_the_others_import(
    write_jsonl, tmp_path, bad_line, reason
):
    (tmp_path / "notimage.jpg").write_text("this is not a jpeg")
    bad = json.loads(bad_line) if bad_line.startswith('{"sku": "SKU') else None
    if bad:
        bad["sku"] = "BAD"
        bad_line = json.dumps(bad)
    path = write_jsonl([offer_line("GOOD-1"), bad_line, offer_line("GOOD-2")])
    code, out, err = run_import(path)
    assert code == 1
    assert f"line 2: {reason}" in err
    assert "2 offers" in err and "lines failed: 1." in err
    assert set(Offer.objects.values_list("sku", flat=True)) == {"GOOD-1", "GOOD-2"}


def test_the_report_speaks_polish_by_default_photo_threads_too(write_jsonl, tmp_path):
    """The product's language unless asked otherwise: each line's error (a photo's too, found
    by a thread of the import's pool) and the summary."""
    (tmp_path / "notimage.jpg").write_text("this is not a jpeg")
    lines = [
        offer_line("GOOD-1"),
        offer_line("BAD-1", price=-1),
        offer_line("BAD-2", photos=["notimage.jpg"]),
        offer_line("BAD-3", photos=["../outside.jpg"]),
    ]
    code, _, err = run_import(write_jsonl(lines), language="pl")
    assert code == 1
    assert "wiersz 2: pole „price” musi wynosić 0 lub więcej, a jest -1" in err
    assert "wiersz 3: zdjęcie notimage.jpg: to nie jest czytelny obraz" in err
    assert "wiersz 4: nie można odczytać zdjęcia ../outside.jpg: zdjęcie musi być" in err
    assert "Zaimportowano 1 ofertę (nowe: 1, zaktualizowane: 0); błędnych wierszy: 3." in err
    assert "line" not in err and "photo" not in err

    code, _, err = run_import(write_jsonl(lines, name="again.jsonl"), language="en")
    assert "line 3: photo notimage.jpg is not a readable image" in err
    assert "line 4: photo ../outside.jpg cannot be read: a photo must be" in err
    assert "Imported 1 offer (0 created, 1 updated); lines failed: 3." in err
    assert "wiersz" not in err and "zdjęci" not in err


def test_a_bad_line_imports_nothing_of_itself(write_jsonl, tmp_path, make_integration):
    make_integration(name="Allegro PL")
    (tmp_path / "a.jpg").write_bytes(image_bytes())
    line = offer_line(
        photos=["a.jpg", "gone.jpg"],
        channels=[{"integration": "Allegro PL", "active": True, "external_id": "1"}],
    )
    code, _, err = run_import(write_jsonl([line]))
    assert code == 1 and "line 1:" in err
    assert not Offer.objects.exists()
    assert not OfferChannel.objects.exists()


def test_import_deactivation_goes_through_the_channel_rule(write_jsonl, make_integration):
    woo = make_integration(name="Sklep", channel="woocommerce")
    on = [{"integration": "Sklep", "active": True, "external_id": "799"}]
    assert run_import(write_jsonl([offer_line(channels=on)]))[0] == 0
    offer = Offer.objects.get()
    SiteJournal.objects.create(offer=offer, integration=woo, photos_hash="abc")
    off = [{"integration": "Sklep", "active": False}]
    assert run_import(write_jsonl([offer_line(channels=off)], name="off.jsonl"))[0] == 0
    link = OfferChannel.objects.get()
    assert link.active is False and link.external_id == "799"
    assert SiteJournal.objects.get().photos_hash == ""


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    code, _, err = run_import(tmp_path / "nope.jsonl")
    assert code == 1 and "Cannot open" in err


def test_photos_given_as_urls_are_downloaded(write_jsonl, photo_host):
    folder, base = photo_host
    (folder / "remote.png").write_bytes(image_bytes((9, 9, 9), fmt="PNG"))
    path = write_jsonl(
        [
            offer_line("URL-1", photos=[f"{base}/remote.png"]),
            offer_line("URL-2", photos=[f"{base}/missing.png"]),
        ]
    )
    code, _, err = run_import(path)
    assert code == 1
    assert f"line 2: photo {base}/missing.png could not be downloaded" in err
    photo = Offer.objects.get(sku="URL-1").photos.get()
    assert photo.content_type == "image/png"
    assert photo.image.read() == (folder / "remote.png").read_bytes()
    assert not Offer.objects.filter(sku="URL-2").exists()


def test_a_sku_repeated_in_one_file_ends_as_its_last_line_says(write_jsonl, make_integration):
    make_integration(name="Sklep", channel="woocommerce")
    on = [{"integration": "Sklep", "active": True, "external_id": "5"}]
    off = [{"integration": "Sklep", "active": False}]
    path = write_jsonl(
        [
            offer_line("DUP", stock=1, channels=on),
            offer_line("OTHER"),
            offer_line("DUP", stock=2, channels=off, parameters=[]),
        ]
    )
    code, out, _ = run_import(path)
    assert code == 0 and "(2 created, 1 updated)" in out
    offer = Offer.objects.get(sku="DUP")
    assert offer.stock == 2 and not offer.parameters.exists()
    assert OfferChannel.objects.get(offer=offer).active is False

"""The import writes a batch in sets: a constant number of statements per batch, the same
outcome line by line as before, the failing line named when the database refuses one, photos
read by a few threads in their order, and links (de)activated in bulk by the catalogue's rule."""

import functools
import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from offers.importing import PHOTO_DOWNLOAD_THREADS, import_lines
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto, SiteJournal
from offers.services import LinkChange, offer_channels_set_active
from tests.catalogue import image_bytes

pytestmark = pytest.mark.django_db


def line(sku, **overrides):
    data = {
        "sku": sku,
        "name": f"Kubek {sku}",
        "price": "19.99",
        "stock": 3,
        "parameters": [{"name": "Kolor", "value": "biały"}, {"name": "Nr", "value": sku}],
        "channels": [],
    }
    data.update(overrides)
    return data


def refuse_rows(table: str, condition: str) -> None:
    """A trigger that makes the database refuse the rows of `table` matching `condition` (on
    NEW) at write time: a refusal no line check can foresee."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused by the database'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW "
                f"WHEN ({condition}) EXECUTE FUNCTION refuse_row()"
            )
        else:
            for event in ("INSERT", "UPDATE"):
                cursor.execute(
                    f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON {table} "
                    f"WHEN {condition} BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
                )


def run(path: Path):
    """The import of `path` in English (the words these tests read): (report, errors)."""
    errors = []
    with path.open("rb") as fh, translation.override("en"):
        report = import_lines(fh, base_dir=path.parent, on_error=lambda n, r: errors.append((n, r)))
    return report, errors


def test_a_line_the_database_refuses_at_write_time_fails_alone_and_is_named(write_jsonl):
    refuse_rows("offers_offer", "NEW.sku = 'REFUSED'")
    path = write_jsonl([line("GOOD-1"), line("REFUSED"), line("GOOD-2"), line("GOOD-3")])
    report, errors = run(path)
    assert (report.created, report.updated) == (3, 0)
    assert [number for number, _ in errors] == [2]
    assert "could not be saved" in errors[0][1] and "refused by the database" in errors[0][1]
    assert set(Offer.objects.values_list("sku", flat=True)) == {"GOOD-1", "GOOD-2", "GOOD-3"}
    # Each good line whole: its parameters came with it, nothing of the refused one did.
    assert OfferParameter.objects.count() == 6


def test_a_nul_character_fails_its_line_with_the_field_named_on_any_database(
    write_jsonl, make_integration
):
    # PostgreSQL cannot store a NUL; SQLite can. The line checks refuse it on both, by name,
    # rather than the database refusing a whole set statement in its own words.
    make_integration(name="Sklep", channel="woocommerce")
    nul_lines = [
        line("NUL-DESCRIPTION", description="<p>a\x00b</p>"),
        line("NUL-NAME", name="Kubek\x00"),
        line("NUL-PARAMETER", parameters=[{"name": "Kolor", "value": "bia\x00ły"}]),
        line("NUL-LINK", channels=[{"integration": "Sklep", "external_id": "12\x0034"}]),
        line("NUL\x00SKU"),
    ]
    path = write_jsonl([line("GOOD-1"), *nul_lines, line("GOOD-2")])
    report, errors = run(path)
    assert (report.created, report.updated) == (2, 0)
    assert [number for number, _ in errors] == [2, 3, 4, 5, 6]
    named = ['"description"', '"name"', '"parameter Kolor"', '"external_id"', '"sku"']
    for (_, reason), field in zip(errors, named, strict=True):
        assert reason.startswith(f"{field} contains a NUL character"), reason
    assert set(Offer.objects.values_list("sku", flat=True)) == {"GOOD-1", "GOOD-2"}
    assert OfferParameter.objects.count() == 4


def test_a_refused_link_fails_its_line_and_keeps_the_files_of_the_photos_it_would_drop(
    write_jsonl, tmp_path, make_integration
):
    make_integration(name="Sklep", channel="woocommerce")
    (tmp_path / "a.jpg").write_bytes(image_bytes((1, 2, 3)))
    (tmp_path / "b.jpg").write_bytes(image_bytes((4, 5, 6)))
    assert run(write_jsonl([line("SKU-1", photos=["a.jpg"])]))[0].created == 1
    kept = OfferPhoto.objects.get()
    refuse_rows("offers_offerchannel", "NEW.external_id = 'REFUSED'")
    changed = line(
        "SKU-1",
        stock=9,
        photos=["b.jpg"],
        channels=[{"integration": "Sklep", "active": True, "external_id": "REFUSED"}],
    )
    report, errors = run(write_jsonl([line("SKU-2"), changed], name="second.jsonl"))
    assert [number for number, _ in errors] == [2] and report.created == 1
    offer = Offer.objects.get(sku="SKU-1")
    assert offer.stock == 3  # nothing of the refused line
    assert list(offer.photos.all()) == [kept]
    assert kept.image.storage.exists(kept.image.name)  # its file was not deleted either
    assert not OfferChannel.objects.exists()


def test_a_batch_is_written_in_the_same_number_of_statements_whatever_its_size(
    write_jsonl, tmp_path, make_integration
):
    woo = make_integration(name="Sklep", channel="woocommerce")
    (tmp_path / "a.jpg").write_bytes(image_bytes((1, 2, 3)))

    def statements(count, prefix):
        lines = [
            line(
                f"{prefix}-{n}",
                photos=["a.jpg"] if n % 5 == 0 else [],
                channels=[{"integration": "Sklep", "active": True, "external_id": str(n)}],
            )
            for n in range(count)
        ]
        path = write_jsonl(lines, name=f"{prefix}.jsonl")
        with CaptureQueriesContext(connection) as queries:
            report, errors = run(path)
        assert errors == [] and report.created == count
        return len(queries.captured_queries)

    assert statements(10, "SMALL") == statements(200, "LARGE")
    assert OfferChannel.objects.filter(integration=woo, active=True).count() == 210
    assert OfferPhoto.objects.count() == 2 + 40


def test_an_unchanged_offer_and_a_changed_one_in_one_batch(write_jsonl, make_integration):
    make_integration(name="Sklep", channel="woocommerce")
    on = [{"integration": "Sklep", "active": True, "external_id": "1"}]
    assert run(write_jsonl([line("SAME", channels=on), line("EDIT", channels=on)]))[0].created == 2
    before = Offer.objects.get(sku="SAME").updated_at
    edit = line("EDIT", stock=0, parameters=[{"name": "Kolor", "value": "czarny"}], channels=on)
    report, errors = run(write_jsonl([line("SAME", channels=on), edit], name="b.jsonl"))
    assert errors == [] and (report.created, report.updated) == (0, 2)
    assert Offer.objects.get(sku="SAME").updated_at == before
    offer = Offer.objects.get(sku="EDIT")
    assert offer.stock == 0 and offer.updated_at > before
    assert [(p.name, p.value) for p in offer.parameters.all()] == [("Kolor", "czarny")]


def test_links_activated_and_deactivated_in_bulk_keep_the_photo_hash_rule(make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    other = make_integration(name="Drugi", channel="woocommerce")
    kept, dropped, created = (Offer.objects.create(sku=s, name=s, price=1) for s in "ABC")
    for offer in (kept, dropped):
        OfferChannel.objects.create(offer=offer, integration=shop, active=True, external_id="x")
        SiteJournal.objects.create(offer=offer, integration=shop, photos_hash="h")
        SiteJournal.objects.create(offer=offer, integration=other, photos_hash="h")
    offer_channels_set_active(
        [
            LinkChange(kept.pk, shop.pk, True, "new-id"),
            LinkChange(dropped.pk, shop.pk, False),
            LinkChange(created.pk, shop.pk, True, "7"),
        ]
    )
    links = {link.offer_id: link for link in OfferChannel.objects.filter(integration=shop)}
    assert (links[kept.pk].active, links[kept.pk].external_id) == (True, "new-id")
    assert (links[dropped.pk].active, links[dropped.pk].external_id) == (False, "x")
    assert (links[created.pk].active, links[created.pk].external_id) == (True, "7")
    hashes = dict(
        SiteJournal.objects.filter(integration=shop).values_list("offer_id", "photos_hash")
    )
    assert hashes == {kept.pk: "h", dropped.pk: ""}
    # Only the deactivated channel forgets: the same offer on another channel keeps its hash.
    assert set(
        SiteJournal.objects.filter(integration=other).values_list("photos_hash", flat=True)
    ) == {"h"}


def test_a_link_deactivated_then_activated_in_one_call_still_forgets_the_photo_hash(
    make_integration,
):
    shop = make_integration(name="Sklep", channel="woocommerce")
    offer = Offer.objects.create(sku="A", name="A", price=1)
    OfferChannel.objects.create(offer=offer, integration=shop, active=True, external_id="x")
    SiteJournal.objects.create(offer=offer, integration=shop, photos_hash="h")
    offer_channels_set_active(
        [LinkChange(offer.pk, shop.pk, False), LinkChange(offer.pk, shop.pk, True)]
    )
    assert OfferChannel.objects.get().active is True
    assert SiteJournal.objects.get().photos_hash == ""


def test_many_offers_deactivated_by_an_import_forget_their_photo_hashes(
    write_jsonl, make_integration
):
    shop = make_integration(name="Sklep", channel="woocommerce")
    on = [{"integration": "Sklep", "active": True, "external_id": "1"}]
    off = [{"integration": "Sklep", "active": False}]
    assert run(write_jsonl([line(f"S-{n}", channels=on) for n in range(30)]))[0].created == 30
    for offer in Offer.objects.all():
        SiteJournal.objects.create(offer=offer, integration=shop, photos_hash="h")
    lines = [line(f"S-{n}", channels=off if n % 2 else on) for n in range(30)]
    assert run(write_jsonl(lines, name="off.jsonl"))[1] == []
    for journal in SiteJournal.objects.select_related("offer"):
        odd = int(journal.offer.sku.split("-")[1]) % 2
        assert journal.photos_hash == ("" if odd else "h"), journal.offer.sku
        assert OfferChannel.objects.get(offer=journal.offer).active is not odd


@pytest.fixture
def slow_photo_host(tmp_path):
    """Serves photos after a pause, counting how many requests it answers at once."""
    folder = tmp_path / "www"
    folder.mkdir()
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    class Slow(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            try:
                time.sleep(0.2)
                super().do_GET()
            finally:
                with lock:
                    state["now"] -= 1

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Slow, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def test_photos_are_downloaded_several_at_once_and_keep_the_order_of_their_line(
    write_jsonl, slow_photo_host
):
    folder, base, state = slow_photo_host
    contents = {}
    for n in range(12):
        contents[n] = image_bytes((n * 20, 255 - n * 20, n), fmt="PNG")
        (folder / f"p{n}.png").write_bytes(contents[n])
    order = [[5, 1, 9, 0], [3, 11, 2, 7], [10, 4, 8, 6]]
    lines = [
        line(f"P-{i}", photos=[f"{base}/p{n}.png" for n in wanted])
        for i, wanted in enumerate(order)
    ]
    report, errors = run(write_jsonl(lines))
    assert errors == [] and report.created == 3
    assert 2 <= state["most"] <= PHOTO_DOWNLOAD_THREADS
    for i, wanted in enumerate(order):
        photos = list(Offer.objects.get(sku=f"P-{i}").photos.order_by("position"))
        assert [p.position for p in photos] == [0, 1, 2, 3]
        assert [p.sha256 for p in photos] == [
            hashlib.sha256(contents[n]).hexdigest() for n in wanted
        ]


def test_a_failed_download_among_parallel_ones_fails_its_line_and_leaves_no_file(
    write_jsonl, slow_photo_host, settings, tmp_path
):
    folder, base, _ = slow_photo_host
    temp = tmp_path / "uploads"
    temp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    for n in range(3):
        (folder / f"p{n}.png").write_bytes(image_bytes((n, 9, 9), fmt="PNG"))
    lines = [
        line("OK-1", photos=[f"{base}/p0.png", f"{base}/p1.png"]),
        line("BAD", photos=[f"{base}/p2.png", f"{base}/missing.png", f"{base}/p0.png"]),
        "{broken",
        line("OK-2", photos=[f"{base}/p2.png"]),
    ]
    report, errors = run(write_jsonl(lines))
    assert report.created == 2
    assert [number for number, _ in errors] == [2, 3]  # in line order
    assert f"photo {base}/missing.png could not be downloaded" in errors[0][1]
    assert not Offer.objects.filter(sku="BAD").exists()
    assert list(temp.iterdir()) == []

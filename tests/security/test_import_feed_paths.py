"""Issue #16, finding 1: a feed's local photo paths stay in the feed's folder, and a line is read
in bounded pieces: what a line names outside, a pipe, a file that is no image, a line too long
or too many photos fail that line alone, without saying what lies outside."""

import pytest

# --- 1: a feed's local photo paths stay in the feed's folder -----------------------------------


def local_import(write_jsonl, tmp_path, photos, *others):
    """Import the feed tmp_path/feed/offers.jsonl: line 1 with `photos`, then `others`."""
    from tests.import_files import offer_line, run_import

    feed = tmp_path / "feed"
    feed.mkdir(exist_ok=True)
    lines = [offer_line("BAD", photos=photos), *others]
    path = write_jsonl(lines)
    moved = feed / path.name
    path.rename(moved)
    return run_import(moved)


@pytest.fixture
def feed(tmp_path):
    """tmp_path/feed (the feed's folder) with ok.png; tmp_path/secret.png and secret.txt lie
    outside it."""
    from tests.catalogue import image_bytes

    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "ok.png").write_bytes(image_bytes(fmt="PNG"))
    (tmp_path / "secret.png").write_bytes(image_bytes((1, 2, 3), fmt="PNG"))
    (tmp_path / "secret.txt").write_text("root:x:0:0")
    return folder


def ok_line():
    from tests.import_files import offer_line

    return offer_line("OK", photos=["ok.png"])


def escapes(tmp_path, feed):
    (feed / "link-out.png").symlink_to(tmp_path / "secret.png")
    (feed / "link-missing.png").symlink_to(tmp_path / "nothing-here.png")
    (feed / "sub").mkdir()
    (feed / "sub" / "link-up").symlink_to(tmp_path)
    return {
        "dot-dot": "../secret.png",
        "dot-dot-inside": "sub/../../secret.png",
        "absolute": str(tmp_path / "secret.png"),
        "absolute-device": "/dev/zero",
        "link-out": "link-out.png",
        "link-dir-out": "sub/link-up/secret.png",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["dot-dot", "dot-dot-inside", "absolute", "absolute-device", "link-out", "link-dir-out"],
)
def test_a_photo_path_that_leads_out_of_the_feeds_folder_fails_its_line(
    write_jsonl, tmp_path, feed, case
):
    from offers.models import Offer, OfferPhoto

    ref = escapes(tmp_path, feed)[case]
    code, _, err = local_import(write_jsonl, tmp_path, [ref], ok_line())

    assert code == 1
    assert f"line 1: photo {ref} cannot be read: a photo must be a regular file inside" in err
    assert list(Offer.objects.values_list("sku", flat=True)) == ["OK"]
    assert OfferPhoto.objects.count() == 1  # ok.png only: nothing from outside was stored


@pytest.mark.django_db
def test_a_refused_path_never_tells_whether_a_file_outside_exists(write_jsonl, tmp_path, feed):
    from tests.import_files import offer_line

    (feed / "link-missing.png").symlink_to(tmp_path / "nothing-here.png")
    (feed / "link-text.png").symlink_to(tmp_path / "secret.txt")
    refs = ["../secret.txt", "../nothing.txt", "link-text.png", "link-missing.png"]
    code, _, err = local_import(
        write_jsonl,
        tmp_path,
        [refs[0]],
        *(offer_line(f"L{i}", photos=[r]) for i, r in enumerate(refs[1:])),
    )
    assert code == 1
    reasons = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith("line ")]
    assert len(reasons) == 4
    assert (
        len({reason.replace(ref, "REF") for reason, ref in zip(reasons, refs, strict=True)}) == 1
    ), reasons
    assert str(tmp_path) not in err


@pytest.mark.django_db
def test_a_link_inside_the_feeds_folder_is_followed(write_jsonl, tmp_path, feed):
    from offers.models import Offer

    (feed / "photos").mkdir()
    (feed / "photos" / "alias.png").symlink_to(feed / "ok.png")
    code, _, err = local_import(write_jsonl, tmp_path, ["photos/alias.png", "./ok.png"])
    assert code == 0, err
    assert Offer.objects.get().photos.count() == 2


@pytest.mark.django_db
def test_a_named_pipe_is_refused_without_being_opened(write_jsonl, tmp_path, feed):
    """A FIFO would block the import on open(); a writer that shows up later would feed it."""
    import os
    import threading
    import time

    from offers.models import Offer
    from tests.catalogue import image_bytes

    os.mkfifo(feed / "pipe.png")
    stop = threading.Event()

    def writer():  # feeds the pipe if the import ever opens it for reading
        while not stop.is_set():
            try:
                fd = os.open(feed / "pipe.png", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(3)
            os.set_blocking(fd, True)
            os.write(fd, image_bytes(fmt="PNG"))
            os.close(fd)
            return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        code, _, err = local_import(write_jsonl, tmp_path, ["pipe.png"], ok_line())
    finally:
        stop.set()
    assert time.monotonic() - started < 2
    assert code == 1 and "line 1: photo pipe.png cannot be read: a photo must be" in err
    assert list(Offer.objects.values_list("sku", flat=True)) == ["OK"]


@pytest.mark.django_db
def test_a_local_file_that_is_no_image_does_not_name_where_it_lies(write_jsonl, tmp_path, feed):
    (feed / "notes.png").write_text("not an image")
    code, _, err = local_import(write_jsonl, tmp_path, ["notes.png"])
    assert code == 1 and "line 1: photo notes.png is not a readable image" in err
    assert str(tmp_path) not in err and "/tmp" not in err


@pytest.mark.django_db
def test_a_line_too_long_fails_alone_without_being_read_whole(
    write_jsonl, tmp_path, feed, settings
):
    from offers.models import Offer
    from tests.import_files import offer_line

    settings.IMPORT_MAX_LINE_BYTES = 4096
    code, _, err = local_import(
        write_jsonl, tmp_path, ["ok.png"], offer_line("LONG", description="x" * 100_000), ok_line()
    )
    assert code == 1
    assert "line 2: is longer than 4,096 bytes (IMPORT_MAX_LINE_BYTES)" in err
    assert set(Offer.objects.values_list("sku", flat=True)) == {"BAD", "OK"}


def test_a_long_line_is_read_in_bounded_pieces():
    import io

    from offers.importing import bounded_lines

    class Counting(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            assert size > 0, "a line is never read without a limit"
            line = super().readline(size)
            Counting.largest = max(Counting.largest, len(line))
            return line

    source = Counting(b'{"a": 1}\n' + b"y" * 1_000_000 + b"\n" + b'{"b": 2}\r\n' + b"z" * 50)
    assert list(bounded_lines(source, 1000)) == [b'{"a": 1}\n', None, b'{"b": 2}\r\n', b"z" * 50]
    assert Counting.largest <= 1002


@pytest.mark.django_db
def test_too_many_photos_fail_their_line(write_jsonl, tmp_path, feed, settings):
    settings.IMPORT_MAX_PHOTOS = 2
    code, _, err = local_import(write_jsonl, tmp_path, ["ok.png"] * 3, ok_line())
    assert code == 1
    assert "line 1: has 3 photos; an offer may have at most 2 (IMPORT_MAX_PHOTOS)" in err

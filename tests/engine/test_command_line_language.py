"""The command line: help in Polish by default and in English on request; a failed run prints its
page and its CSV."""

import subprocess
import sys

import pytest
from django.core.management.base import CommandError
from django.urls import reverse

pytestmark = pytest.mark.django_db


# --- 15. the command line --------------------------------------------------------------------


def manage(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "command, polish_word, english_word",
    [
        ("resync_offers", "pokaż ostatni przebieg", "show the latest run"),
        ("import_offers", "plik JSON Lines", "the JSON Lines file"),
    ],
)
def test_help_speaks_polish_by_default_and_english_on_request(command, polish_word, english_word):
    polish = manage(command, "--help").stdout
    assert "użycie:" in polish and "przykłady:" in polish and polish_word in polish
    in_english = manage(command, "--help", "--language", "en").stdout
    assert "usage:" in in_english and "examples:" in in_english
    assert english_word in in_english


def test_everyday_syncs_command_speaks_polish_by_default_and_english_on_request(
    make_integration,
):
    from io import StringIO

    from django.core.management import call_command

    shop = make_integration(name="Sklep", channel="woocommerce")
    out = StringIO()
    call_command("sync_changes", shop.name, stdout=out)
    assert "Sklep: p50/p95 w ostatniej godzinie" in out.getvalue()
    assert "oczekuje 0, najstarsza —, odrzucone 0" in out.getvalue()
    with pytest.raises(CommandError, match="Nie ma integracji o nazwie 'Brak'"):
        call_command("sync_changes", "Brak")

    out = StringIO()
    call_command("sync_changes", shop.name, language="en", stdout=out)
    assert "Sklep: p50/p95 last hour" in out.getvalue()
    assert "pending 0, oldest —, refused 0" in out.getvalue()
    with pytest.raises(CommandError, match="No integration is named 'Brak'"):
        call_command("sync_changes", "Brak", language="en")


def test_a_failed_run_prints_its_page_and_its_csv(failed_run, settings):
    from integrations.management.commands.resync_offers import Command

    settings.SITE_URL = "https://xsale.example"
    command = Command()
    with pytest.raises(CommandError) as error:
        command._follow(failed_run)
    args = [failed_run.integration_id, failed_run.pk]
    assert f"https://xsale.example{reverse('v2:resync_run', args=args)}" in str(error.value)
    assert reverse("v2:resync_failures_csv", args=args) in str(error.value)

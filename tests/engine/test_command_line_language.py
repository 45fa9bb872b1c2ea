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


def test_help_speaks_polish_by_default_and_english_on_request():
    polish = manage("resync_offers", "--help").stdout
    assert "użycie:" in polish and "przykłady:" in polish and "pokaż ostatni przebieg" in polish
    in_english = manage("resync_offers", "--help", "--language", "en").stdout
    assert "usage:" in in_english and "examples:" in in_english
    assert "show the latest run" in in_english


def test_the_import_speaks_polish_by_default_and_english_on_request():
    polish = manage("import_offers", "--help").stdout
    assert "użycie:" in polish and "przykłady:" in polish and "plik JSON Lines" in polish
    in_english = manage("import_offers", "--help", "--language", "en").stdout
    assert "usage:" in in_english and "examples:" in in_english
    assert "the JSON Lines file" in in_english


def test_a_failed_run_prints_its_page_and_its_csv(failed_run, settings):
    from integrations.management.commands.resync_offers import Command

    settings.SITE_URL = "https://xsale.example"
    command = Command()
    with pytest.raises(CommandError) as error:
        command._follow(failed_run)
    args = [failed_run.integration_id, failed_run.pk]
    assert f"https://xsale.example{reverse('v2:resync_run', args=args)}" in str(error.value)
    assert reverse("v2:resync_failures_csv", args=args) in str(error.value)

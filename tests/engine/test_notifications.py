"""The finish e-mail: to whoever started the run, in Polish, with the honest outcome and a link."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from integrations.models import ResyncRun
from integrations.notifications import notify_run_finished

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://xsale.example.com"


def ended(shop, user, **fields):
    now = timezone.now()
    values = {
        "integration": shop, "requested_by": user, "source": "v2", "status": "completed",
        "total": 3000, "processed": 3000, "sent": 2500, "failed": 500, "photo_files_sent": 9100,
        "started_at": now - timedelta(hours=2, minutes=5), "finished_at": now,
    }  # fmt: skip
    values.update(fields)
    return ResyncRun.objects.create(**values)


def test_it_mails_the_honest_outcome_with_counts_duration_and_link(shop):
    user = get_user_model().objects.create_user("anna", email="anna@example.com")
    run = ended(shop, user)
    notify_run_finished(run)
    [message] = mail.outbox
    assert message.to == ["anna@example.com"]
    assert "zakończona z błędami" in message.subject and "Sklep Woo" in message.subject
    body = message.body
    assert "Nieudane: 500" in body and "Wysłane: 2\xa0500" in body
    assert "Wysłane zdjęcia: 9\xa0100" in body
    assert "Czas trwania: 2 h 5 min" in body
    assert f"https://xsale.example.com/integrations/{shop.pk}/runs/{run.pk}/" in body


def test_a_failed_run_says_why(shop):
    user = get_user_model().objects.create_user("bartek", email="b@example.com")
    run = ended(shop, user, status="failed", error="Kanał odrzucił dane dostępowe.", failed=0)
    notify_run_finished(run)
    assert "nieudana" in mail.outbox[0].subject
    assert "Przyczyna: Kanał odrzucił dane dostępowe." in mail.outbox[0].body


def test_nobody_to_mail_sends_nothing(shop):
    notify_run_finished(ended(shop, None))
    no_address = get_user_model().objects.create_user("cli")
    notify_run_finished(ended(shop, no_address, status="cancelled"))
    assert mail.outbox == []


def test_a_drift_check_mails_as_a_check_with_its_findings_and_report_link(shop):
    user = get_user_model().objects.create_user("ewa", email="ewa@example.com")
    report = {"differs": 230, "missing": 3, "unknown": 2, "compared": ["price"]}
    run = ended(shop, user, kind="check", sent=0, failed=1, photo_files_sent=0, report=report)
    notify_run_finished(run)
    [message] = mail.outbox
    assert "sprawdzenie rozbieżności" in message.subject.lower()
    body = message.body
    assert "Oferty, które się różnią: 230" in body and "Brak w kanale: 3" in body
    assert "Wysłane" not in body and "zdjęcia" not in body
    assert f"https://xsale.example.com/integrations/{shop.pk}/drift/{run.pk}/" in body

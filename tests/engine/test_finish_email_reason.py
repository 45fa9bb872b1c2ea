"""The finish e-mail leads with the most common failure reason (its count and the channel's
words), links the run, and reads cleanly: one space between words, numbers in Polish form."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from integrations.models import ResyncFailure, ResyncRun
from integrations.notifications import notify_run_finished
from offers.models import Offer

pytestmark = pytest.mark.django_db

NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture(autouse=True)
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://xsale.example.com"


def run_with_failures(integration, reasons):
    user = get_user_model().objects.create_user("anna", email="anna@example.com")
    now = timezone.now()
    failed = sum(count for count, _ in reasons)
    run = ResyncRun.objects.create(
        integration=integration, requested_by=user, source="v2", status="completed", total=12000,
        processed=12000, sent=12000 - failed, failed=failed, photo_files_sent=0,
        started_at=now - timedelta(minutes=20), finished_at=now,
    )  # fmt: skip
    offers = Offer.objects.bulk_create(
        Offer(sku=f"E-{n}", name=f"Oferta {n}", price="1.00") for n in range(failed)
    )
    failures, n = [], 0
    for count, (code, message) in reasons:
        for _ in range(count):
            failures.append(
                ResyncFailure(run=run, offer=offers[n], http_status=422, code=code, message=message)
            )
            n += 1
    ResyncFailure.objects.bulk_create(failures)
    return run


def test_the_email_leads_with_the_most_common_reason_and_its_count(shop):
    run = run_with_failures(
        shop,
        [
            (2, ("price_too_low", "Cena jest niższa niż minimalna.")),
            (5, ("invalid_ean", "Nieprawidłowy kod EAN.")),
        ],
    )
    notify_run_finished(run)
    body = mail.outbox[0].body
    top = "Najczęstsza przyczyna (5 ofert): Nieprawidłowy kod EAN."
    assert top in body
    assert body.index(top) < body.index("Przetworzone oferty")
    assert "Cena jest niższa" not in body
    assert f"Strona przebiegu: https://xsale.example.com/integrations/{shop.pk}/runs/{run.pk}/" in (
        body
    )


def test_the_email_has_no_double_spaces_and_groups_thousands(shop):
    run = run_with_failures(shop, [(1, ("locked", "Oferta jest edytowana."))])
    notify_run_finished(run)
    body = mail.outbox[0].body
    assert "  " not in body
    assert f"Przetworzone oferty: 12{NBSP}000 z 12{NBSP}000" in body
    assert "Najczęstsza przyczyna (1 oferta): Oferta jest edytowana." in body


def test_a_run_without_failures_names_no_reason(shop):
    run = run_with_failures(shop, [])
    notify_run_finished(run)
    assert "Najczęstsza przyczyna" not in mail.outbox[0].body

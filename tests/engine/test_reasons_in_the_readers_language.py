"""Reasons a worker stores (a run's error, an offer's failure, the site journal's message) read
in the reader's language: Polish pages and the Polish e-mail in Polish, English pages in
English; the channel's own words stay as the channel wrote them. And the advice matches the
cause: a host that never answered is the settings' trouble, a 5xx from one that did is not.
"""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from integrations.engine.runner import process_chunk
from integrations.models import Integration, ResyncFailure, ResyncRun
from integrations.presentation.failures import advice_for
from integrations.services.runs import start_resync
from integrations.wording import worded
from offers.models import OfferChannel
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = pytest.mark.django_db

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there: every connection is refused

ZALANDO_REFUSED_PL = "Zalando odrzuciło Client ID i sekret. Sprawdź je w ustawieniach integracji."
ZALANDO_REFUSED_EN = (
    "Zalando refused the client ID and secret. Check them in the integration's settings."
)
NO_ALLEGRO_ID_PL = "Oferta nie ma identyfikatora oferty Allegro (zewnętrznego ID)."
NO_ALLEGRO_ID_EN = "The offer has no Allegro offer id (external ID)."
CHECK_THE_URL_PL = "sprawdź adres API"
CHECK_THE_URL_EN = "check the API URL"
RETRY_LATER_PL = "ponów później"
RETRY_LATER_EN = "retry later"


@pytest.fixture(autouse=True)
def one_step_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def resync(integration, user=None) -> ResyncRun:
    return drain(start_resync(integration, user=user, source="v2"), max_chunks=100)


def page(client, name, *args) -> str:
    """The page's text a seller reads: a form's hidden values (a retry's group filter) left out."""
    response = client.get(reverse(f"v2:{name}", args=args))
    assert response.status_code == 200
    return re.sub(r'<input type="hidden"[^>]*>', "", response.content.decode())


def zalando_with_a_wrong_secret(sandbox, account):
    zalando = sandbox_integration(sandbox, account, "zalando")
    zalando.credentials = {**zalando.credentials, "client_secret": "not-the-secret"}
    zalando.save()
    make_offers(zalando, 2, photos=0)
    return zalando


# --- a run's reason ------------------------------------------------------------------------------


def test_a_channels_refusal_reads_polish_on_a_polish_page(seller, sandbox, sandbox_account):
    zalando = zalando_with_a_wrong_secret(sandbox, sandbox_account)
    run = resync(zalando)
    assert run.status == "failed"

    html = page(seller, "resync_run", zalando.pk, run.pk)
    progress = seller.get(reverse("v2:resync_progress", args=[zalando.pk])).json()

    assert ZALANDO_REFUSED_PL in html
    assert "refused the client ID" not in html
    assert ZALANDO_REFUSED_PL in str(progress)


def test_a_channels_refusal_reads_english_on_an_english_page(
    seller, english, sandbox, sandbox_account
):
    zalando = zalando_with_a_wrong_secret(sandbox, sandbox_account)
    run = resync(zalando)

    html = page(seller, "resync_run", zalando.pk, run.pk)

    assert ZALANDO_REFUSED_EN.replace("'", "&#x27;") in html
    assert "odrzuciło" not in html


def test_the_finish_email_gives_the_reason_in_polish(sandbox, sandbox_account):
    anna = get_user_model().objects.create_user("anna", email="anna@example.com")
    zalando = zalando_with_a_wrong_secret(sandbox, sandbox_account)

    resync(zalando, user=anna)

    [email] = mail.outbox
    assert f"Przyczyna: {ZALANDO_REFUSED_PL}" in email.body
    assert "refused" not in email.body


def test_the_finish_email_gives_the_reason_in_english_where_english_is_the_language(
    settings, sandbox, sandbox_account
):
    settings.LANGUAGE_CODE = "en"
    anna = get_user_model().objects.create_user("anna", email="anna@example.com")
    zalando = zalando_with_a_wrong_secret(sandbox, sandbox_account)

    resync(zalando, user=anna)

    [email] = mail.outbox
    assert f"Reason: {ZALANDO_REFUSED_EN}" in email.body


# --- an offer's reason ---------------------------------------------------------------------------


@pytest.fixture
def allegro_run(sandbox, sandbox_account):
    """An Allegro resync in which one offer has no Allegro offer id."""
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3, photos=0)
    OfferChannel.objects.filter(offer=offers[1]).update(external_id="")
    run = resync(allegro)
    assert (run.sent, run.failed) == (2, 1)
    return allegro, run, offers[1]


def test_an_offers_failure_reads_polish_on_the_polish_pages(seller, allegro_run):
    allegro, run, offer = allegro_run
    assert ResyncFailure.objects.get(run=run).message == NO_ALLEGRO_ID_EN  # stored as written

    run_page = page(seller, "resync_run", allegro.pk, run.pk)
    offer_page = page(seller, "offer_detail", offer.pk)
    sync_log = page(seller, "sync_log")

    for html in (run_page, offer_page, sync_log):
        assert NO_ALLEGRO_ID_PL in html
        assert NO_ALLEGRO_ID_EN not in html


def test_an_offers_failure_reads_english_on_the_english_pages(seller, english, allegro_run):
    allegro, run, offer = allegro_run

    for html in (
        page(seller, "resync_run", allegro.pk, run.pk),
        page(seller, "offer_detail", offer.pk),
        page(seller, "sync_log"),
    ):
        assert NO_ALLEGRO_ID_EN in html
        assert NO_ALLEGRO_ID_PL not in html


def test_the_failures_csv_gives_our_reasons_in_the_readers_language(seller, allegro_run):
    allegro, run, __ = allegro_run

    response = seller.get(reverse("v2:resync_failures_csv", args=[allegro.pk, run.pk]))

    assert NO_ALLEGRO_ID_PL in b"".join(response.streaming_content).decode("utf-8-sig")


def test_the_channels_own_words_stay_as_the_channel_wrote_them(seller, sandbox, sandbox_account):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 2, photos=0)
    sandbox.configure("woocommerce", sandbox_account, reject_name_pattern="testowa 2$")
    run = resync(shop)
    failure = ResyncFailure.objects.get(run=run)

    html = page(seller, "resync_run", shop.pk, run.pk)

    assert failure.message and failure.message in html
    with translation.override("pl"):
        assert worded(failure.message) == failure.message


def test_a_reason_quoting_another_is_worded_through(allegro_run):
    """An offer's journal row keeps what a send answered; a reason within a reason reads whole
    in the reader's language."""
    from integrations.saleschannels.allegro.adapter import PHOTO_NOT_UPLOADED
    from integrations.shopconnect.errors import CONNECTION_FAILED, DID_NOT_ANSWER

    inner = DID_NOT_ANSWER(
        channel="Allegro",
        what=CONNECTION_FAILED(error="ConnectionError", where=" (127.0.0.1:9)"),
        attempts=3,
    )
    text = PHOTO_NOT_UPLOADED(position=2, error=inner)
    with translation.override("pl"):
        assert worded(text) == (
            "Zdjęcie 2 nie zostało przesłane: Allegro nie odpowiedział (połączenie nieudane: "
            "ConnectionError (127.0.0.1:9)) — prób: 3"
        )
    with translation.override("en"):
        assert worded(text) == text


# --- advice that matches the cause ---------------------------------------------------------------


def test_a_shop_that_never_answered_is_a_settings_problem_not_try_again_later(
    seller, make_integration
):
    shop = make_integration(
        name="Sklep z literówką",
        channel="woocommerce",
        api_url=f"{UNREACHABLE}/wordpress",
        requests_per_minute=60_000,
    )
    make_offers(shop, 2, photos=0)

    run = resync(shop)

    assert {f.code for f in ResyncFailure.objects.filter(run=run)} == {"host_unreachable"}
    html = page(seller, "resync_run", shop.pk, run.pk)
    assert CHECK_THE_URL_PL in html
    assert RETRY_LATER_PL not in html
    with translation.override("en"):
        assert CHECK_THE_URL_EN in advice_for("host_unreachable", None)


def test_a_shop_that_answered_with_5xx_is_temporary(sandbox, sandbox_account):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 2, photos=0)
    sandbox.configure("woocommerce", sandbox_account, fail_rate=1.0)

    run = resync(shop)

    failures = ResyncFailure.objects.filter(run=run)
    assert {f.code for f in failures} == {"channel_unavailable"}
    with translation.override("pl"):
        assert RETRY_LATER_PL in advice_for("channel_unavailable", failures[0].http_status)
    with translation.override("en"):
        assert RETRY_LATER_EN in advice_for("channel_unavailable", failures[0].http_status)


def test_a_login_host_that_never_answered_fails_the_run_with_check_the_url(
    seller, sandbox, sandbox_account
):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    # A typo in the address: nothing answers there (the secrets stay, as if the seller had
    # typed the URL with them in one go).
    Integration.objects.filter(pk=zalando.pk).update(api_url=UNREACHABLE)
    make_offers(zalando, 1, photos=0)

    run = resync(zalando)

    assert run.status == "failed"
    assert "could not be reached" in run.error and "Try" not in run.error
    html = page(seller, "resync_run", zalando.pk, run.pk)
    assert "Sprawdź adres API w ustawieniach integracji" in html
    assert "później" not in html.split('data-field="error"')[1].split("</p>")[0]


def test_an_allegro_warning_of_two_reasons_reads_whole_in_polish():
    from integrations.saleschannels.allegro.adapter import SHORTENED_AND_PROCESSING
    from integrations.saleschannels.allegro.mapping import NAME_SHORTENED

    stored = SHORTENED_AND_PROCESSING(warning=NAME_SHORTENED(max=75, name="Kubek"))
    with translation.override("pl"):
        assert worded(stored) == (
            "Nazwa została skrócona do 75 znaków dopuszczalnych przez Allegro: „Kubek”. "
            "Allegro przyjęło zmianę i nadal ją przetwarza."
        )


def test_a_check_of_a_shop_that_never_answered_fails_at_once_with_check_the_url(
    seller, make_integration
):
    from integrations.services import drift

    shop = make_integration(
        name="Sklep z literówką", channel="woocommerce", api_url=f"{UNREACHABLE}/wordpress"
    )
    make_offers(shop, 1, photos=0)

    run = drain(drift.start_check(shop, user=None, source="v2"), max_chunks=2)

    assert run.status == "failed"
    assert "check the API URL" in run.error and "unexpected" not in run.error
    html = page(seller, "drift_report", shop.pk, run.pk)
    assert "sprawdź adres API (i adres logowania) w ustawieniach integracji" in html


def test_a_check_of_a_shop_that_answered_before_waits_it_out(make_integration):
    """Sends of this integration reached the shop before: not reaching it now is an outage."""
    from integrations.services import drift
    from offers.models import SiteJournal

    shop = make_integration(
        name="Sklep chwilowo niedostępny", channel="woocommerce", api_url=f"{UNREACHABLE}/wp"
    )
    [offer] = make_offers(shop, 1, photos=0)
    SiteJournal.objects.create(
        offer=offer, integration=shop, status=SiteJournal.Status.OK, synced_at=timezone.now()
    )
    run = drift.start_check(shop, user=None, source="v2")

    process_chunk(run.pk, run.cursor)

    run.refresh_from_db()
    assert run.status == "paused" and not run.error


def test_a_hostile_channel_message_is_worded_in_one_pass_not_backtracked():
    """A stored text may hold a channel's own words (up to 2,000 characters). Matched with
    backtracking patterns of several `.*?`, this one took 10 s to word, on every page that
    showed it; matched in one pass it is left as the channel wrote it at once."""

    from integrations.wording import worded

    hostile = ((" answered  — " * 150) + "attempt(s)x")[:2000]
    started = time.monotonic()
    with translation.override("pl"):
        assert worded(hostile) == hostile
    # Generous: the one-pass match takes milliseconds; the backtracking one took 10 s.
    assert time.monotonic() - started < 2

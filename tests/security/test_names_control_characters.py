"""Issue #16, finding 7c: a newline or other control characters in an integration's name: the
finish e-mail still goes with one short subject line, and the form refuses such a name."""

import pytest
from django.utils import translation

from integrations.models import ResyncRun

pytestmark = pytest.mark.django_db

# --- 7c. A newline in an integration's name -----------------------------------------------------


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://xsale.example.com"


def test_a_newline_in_the_name_does_not_lose_the_finish_email(locmem, make_integration):
    from django.contrib.auth import get_user_model
    from django.core import mail

    from integrations.notifications import notify_run_finished

    # Saved before the form refused such names, or through the shell: the ORM does not check.
    shop = make_integration(name="Sklep\nBcc: x@example.com", channel="woocommerce")
    user = get_user_model().objects.create_user("anna", email="anna@example.com")
    run = ResyncRun.objects.create(
        integration=shop, requested_by=user, source="v2", status="completed", total=1, sent=1
    )

    notify_run_finished(run)

    [message] = mail.outbox
    assert message.recipients() == ["anna@example.com"]
    assert "Sklep Bcc: x@example.com" in message.subject
    assert not {"\r", "\n"} & set(message.subject)
    assert message.bcc == [] and message.message()["Bcc"] is None


def test_a_long_name_with_control_characters_makes_one_short_subject_line(locmem):
    from integrations.notifications import header_text

    text = header_text("A\r\n\tB\x00C\x1b[31m\u2028D  " + "x" * 500)
    assert text.startswith("A B C [31m D x")
    assert len(text) <= 150 and text.endswith("…")
    assert all(ch.isprintable() for ch in text)


@pytest.mark.parametrize("name", ["Sklep\nBcc: x@example.com", "Sklep\tWoo", "Sklep\x1b[2J"])
def test_the_form_refuses_control_characters_in_the_name(make_integration, name):

    from integrations.forms import IntegrationForm

    data = {
        "name": name,
        "channel": "woocommerce",
        "api_url": "http://127.0.0.1:9/woocommerce/x",
        "requests_per_minute": "",
        "active": "on",
        "secret_consumer_key": "ck",
        "secret_consumer_secret": "cs",
    }
    with translation.override("en"):
        form = IntegrationForm(data)
        assert not form.is_valid()
        assert form.errors["name"] == [
            "The name cannot contain line breaks, tabs or other control characters."
        ]
    assert IntegrationForm({**data, "name": "Sklep Woo – zażółć"}).is_valid()

"""Issue #9, finding 8: login throttling (django-axes) and a demo seed that refuses production."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(db):
    return get_user_model().objects.create_user("anna", password="pw-anna-correct")


def log_in(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_ten_failures_lock_the_address_out_even_with_the_right_password(client, anna, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    for _ in range(9):
        assert log_in(client, "anna", "wrong").status_code == 200  # the form, with its error
    locked = log_in(client, "anna", "wrong")
    assert locked.status_code == 429
    assert "Zbyt wiele nieudanych logowań" in locked.content.decode()
    response = log_in(client, "anna", "pw-anna-correct")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_address_not_per_user_name(client, anna):
    """Issue #16, 5: a lock by user name would let anyone keep anna out; this one holds the
    address that guessed, for every user name it tries."""
    get_user_model().objects.create_user("bartek", password="pw-bartek")
    for _ in range(10):
        log_in(client, "anna", "wrong")
    assert log_in(client, "anna", "pw-anna-correct").status_code == 429
    assert log_in(client, "bartek", "pw-bartek").status_code == 429  # same address
    assert log_in(client, "anna", "pw-anna-correct", address="10.0.0.2").status_code == 302


def test_a_success_does_not_reset_the_count(client, anna):
    """A guesser with an account of their own cannot log in between guesses to guess on."""
    for _ in range(9):
        log_in(client, "anna", "wrong")
    assert log_in(client, "anna", "pw-anna-correct").status_code == 302
    client.logout()
    assert log_in(client, "anna", "wrong").status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, anna, settings):
    from datetime import timedelta

    from axes.models import AccessAttempt

    for _ in range(10):
        log_in(client, "anna", "wrong")
    assert log_in(client, "anna", "pw-anna-correct").status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert log_in(client, "anna", "pw-anna-correct").status_code == 302


def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1.*--allow-production"):
        call_command("seed_demo", offers=1)
    assert not get_user_model().objects.filter(username="demo").exists()


def test_seed_demo_runs_in_production_only_when_told_to(settings):
    settings.DEBUG = False
    call_command("seed_demo", offers=1, allow_production=True)
    assert get_user_model().objects.get(username="demo").has_perm("integrations.view_integration")

"""The everyday-sync switch (`Integration.sync_changes`) and the reconciliation's time and
frequency on the V1 and V2 forms and in the admin, and the pause/resume button of the
integration page (pages/reconcile.py)."""

from datetime import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from integrations.models import Integration
from tests.page_fixtures import make_user

pytestmark = pytest.mark.django_db


def form_data(integration, **overrides):
    data = {
        "name": integration.name,
        "channel": integration.channel,
        "api_url": integration.api_url,
        "requests_per_minute": "",
        "active": "on",
        "sync_changes": "on",
        "reconcile_every": "daily",
        "reconcile_at": "03:00",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_pages_form_shows_and_saves_the_switch_and_the_schedule(seller, shop, layout):
    url = reverse(f"{layout}:integration_edit", args=[shop.pk])
    page = seller.get(url).content.decode()
    assert 'name="sync_changes"' in page and "checked" in page.split('name="sync_changes"')[1][:80]
    assert 'name="reconcile_every"' in page and 'name="reconcile_at"' in page

    response = seller.post(
        url, form_data(shop, sync_changes=None, reconcile_every="weekly", reconcile_at="22:15")
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.sync_changes, shop.reconcile_every, shop.reconcile_at) == (
        False,
        "weekly",
        time(22, 15),
    )
    page = seller.get(url).content.decode()
    assert 'value="22:15"' in page


def test_a_form_posted_without_the_schedule_keeps_it(seller, shop):
    shop.reconcile_every, shop.reconcile_at = "hourly", time(0, 40)
    shop.save()
    data = form_data(shop, reconcile_every=None, reconcile_at=None)
    assert seller.post(reverse("v2:integration_edit", args=[shop.pk]), data).status_code == 302
    shop.refresh_from_db()
    assert (shop.reconcile_every, shop.reconcile_at) == ("hourly", time(0, 40))


@pytest.fixture
def admin_client_(client):
    client.force_login(
        get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-admin-123")
    )
    return client


def test_the_admin_lists_filters_and_edits_the_switch(admin_client_, shop):
    other = Integration.objects.create(
        name="Wstrzymany",
        channel="woocommerce",
        api_url="https://sklep.example.pl",
        sync_changes=False,
    )
    changelist = reverse("admin:integrations_integration_changelist")
    page = admin_client_.get(changelist).content.decode()
    assert "column-sync_changes" in page and "column-reconcile_every" in page
    paused = admin_client_.get(changelist, {"sync_changes__exact": "0"}).content.decode()
    assert other.name in paused and shop.name not in paused

    change = reverse("admin:integrations_integration_change", args=[shop.pk])
    page = admin_client_.get(change).content.decode()
    assert 'name="sync_changes"' in page and 'name="reconcile_every"' in page
    response = admin_client_.post(change, form_data(shop, sync_changes=None, reconcile_every="off"))
    assert response.status_code == 302, response.content.decode()[:2000]
    shop.refresh_from_db()
    assert (shop.sync_changes, shop.reconcile_every) == (False, "off")


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_pause_button_flips_the_switch_and_says_so(seller, english, shop, layout):
    url = reverse(f"{layout}:sync_changes_switch", args=[shop.pk])
    page = seller.get(reverse(f"{layout}:integration_edit", args=[shop.pk])).content.decode()
    assert f'action="{url}"' in page and "data-sync-changes-button" in page
    assert seller.get(url).status_code == 405

    response = seller.post(url, follow=True)
    shop.refresh_from_db()
    assert shop.sync_changes is False
    assert "is paused" in response.content.decode()
    assert 'data-sync-changes="off"' in response.content.decode()
    # The same click again (an old page) does not flip it back: the form says which way.
    seller.post(url)
    shop.refresh_from_db()
    assert shop.sync_changes is False

    response = seller.post(url, {"sync_changes": "on"}, follow=True)
    shop.refresh_from_db()
    assert shop.sync_changes is True
    assert "as they happen again" in response.content.decode()


def test_the_pause_button_needs_the_resync_permission(viewer, shop):
    page = viewer.get(reverse("v2:integration_edit", args=[shop.pk])).content.decode()
    assert "data-sync-changes-button" not in page
    assert viewer.post(reverse("v2:sync_changes_switch", args=[shop.pk])).status_code == 403
    shop.refresh_from_db()
    assert shop.sync_changes is True


def test_the_pause_button_needs_the_csrf_token(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("csrf", "resync_integration", "view_integration"))
    assert client.post(reverse("v2:sync_changes_switch", args=[shop.pk])).status_code == 403
    shop.refresh_from_db()
    assert shop.sync_changes is True

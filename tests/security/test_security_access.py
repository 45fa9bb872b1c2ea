"""Issue #9, finding 6: the pages that read integrations, runs and the sync log need the
`integrations.view_integration` permission, not just a login."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.models import ResyncRun

pytestmark = pytest.mark.django_db


def login(client, *codenames):
    user = get_user_model().objects.create_user("someone", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.fixture
def integration(make_integration):
    integration = make_integration(name="Sklep", channel="woocommerce")
    ResyncRun.objects.create(integration=integration, source="v2", status="completed", total=3)
    return integration


READ_PAGES = [
    ("v2:integration_list", False),
    ("v2:integration_edit", True),
    ("v2:resync_progress", True),
    ("v2:sync_log", False),
    ("v1:integration_list", False),
    ("v1:integration_edit", True),
    ("v1:resync_progress", True),
]


def url(name, with_pk, pk):
    return reverse(name, args=[pk] if with_pk else [])


@pytest.mark.parametrize("name, with_pk", READ_PAGES)
def test_a_user_without_the_view_permission_gets_403(client, integration, name, with_pk):
    login(client, "resync_integration", "change_integration")
    response = client.get(url(name, with_pk, integration.pk))
    assert response.status_code == 403
    assert "Sklep" not in response.content.decode()


@pytest.mark.parametrize("name, with_pk", READ_PAGES)
def test_the_view_permission_opens_the_read_pages(client, integration, name, with_pk):
    login(client, "view_integration")
    assert client.get(url(name, with_pk, integration.pk)).status_code == 200


def test_the_403_page_is_the_products_own_in_polish(client, integration):
    login(client)
    page = client.get(reverse("v2:integration_list")).content.decode()
    assert "Brak dostępu" in page
    assert "xsale/v2.css" in page


def test_the_404_page_is_the_products_own_in_polish(client):
    login(client, "view_integration")
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Nie ma takiej strony" in page and "xsale/v2.css" in page


def test_the_progress_of_a_missing_integration_is_404(client, integration):
    login(client, "view_integration")
    response = client.get(reverse("v2:resync_progress", args=[integration.pk + 1000]))
    assert response.status_code == 404


def test_without_the_view_permission_a_post_saves_nothing(client, integration):
    login(client, "change_integration")
    response = client.post(reverse("v2:integration_edit", args=[integration.pk]), {"name": "x"})
    assert response.status_code == 403
    integration.refresh_from_db()
    assert integration.name == "Sklep"


def test_the_resync_actions_still_need_the_resync_permission(client, integration):
    login(client, "view_integration")
    response = client.post(reverse("v2:resync_confirm", args=[integration.pk]))
    assert response.status_code == 403
    assert ResyncRun.objects.count() == 1

"""The admin in Polish (the accusative and plural forms of the models' names), and the task admin
for superusers only."""

import pytest

from tests.page_fixtures import html, make_user

pytestmark = pytest.mark.django_db


# --- 11. admin -------------------------------------------------------------------------------


def test_the_admin_reads_in_polish_with_the_accusative_and_plural_forms(client, shop):
    client.force_login(make_user("root", superuser=True))
    page = html(client.get("/admin/integrations/integration/"))
    assert "Wybierz integrację do zmiany" in page
    page = html(client.get("/admin/offers/offer/"))
    assert "31 wyników" in page and "31 oferty" not in page


def test_the_task_admin_is_for_superusers_only(client, shop):
    staff = make_user("staff", "view_schedule", "view_failure", "view_integration")
    client.force_login(staff)
    assert "django_q" not in html(client.get("/admin/"))
    assert client.get("/admin/django_q/failure/").status_code == 403
    client.force_login(make_user("root", superuser=True))
    assert client.get("/admin/django_q/failure/").status_code == 200

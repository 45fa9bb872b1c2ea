"""The admin's resync confirmations say when a run is already going, and every start message
links the run's progress."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from integrations.models import Integration, ResyncRun
from tests.page_fixtures import html, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_integration_changelist"


@pytest.fixture
def boss(client):
    client.force_login(make_user("boss", superuser=True))
    return client


@pytest.fixture
def shops(db):
    return [
        Integration.objects.create(
            name=f"Sklep {n}",
            channel="woocommerce",
            api_url=f"http://127.0.0.1:9/woocommerce/{n}",
            credentials={"consumer_key": "k", "consumer_secret": "s"},
        )
        for n in (1, 2)
    ]


def running(integration, processed=12, total=30):
    return ResyncRun.objects.create(
        integration=integration, source="v2", status="running", processed=processed, total=total
    )


def run_page(run):
    return reverse("v2:resync_run", args=[run.integration_id, run.pk])


def test_the_change_pages_confirmation_says_a_run_is_going_and_links_it(boss, shops):
    run = running(shops[0])
    page = html(boss.get(reverse("admin:integrations_integration_resync", args=[shops[0].pk])))
    notice = page.split("data-already-running")[1].split("</div>")[0]
    assert "Resynchronizacja już trwa" in notice
    assert "Sklep 1: 12 z 30 ofert" in notice
    assert f'href="{run_page(run)}"' in notice
    assert "Tak, uruchom resynchronizację" not in page  # nothing to start


def test_the_bulk_confirmation_says_which_are_going_and_that_they_are_skipped(boss, shops):
    run = running(shops[1])
    page = html(
        boss.post(
            reverse(CHANGELIST),
            {"action": "resync_offers", ACTION_CHECKBOX_NAME: [s.pk for s in shops]},
        )
    )
    notice = page.split("data-already-running")[1].split("</div>")[0]
    assert "pominięta" in notice and "Sklep 2" in notice and "Sklep 1" not in notice
    assert f'href="{run_page(run)}"' in notice
    assert "Tak, uruchom resynchronizację" in page  # the other one can start


def test_the_bulk_start_message_links_each_runs_progress(boss, shops):
    response = boss.post(
        reverse(CHANGELIST),
        {"action": "resync_offers", ACTION_CHECKBOX_NAME: [s.pk for s in shops], "post": "yes"},
        follow=True,
    )
    page = html(response)
    for shop in shops:
        run = ResyncRun.objects.get(integration=shop)
        assert f'<a href="{run_page(run)}" data-run-progress="{run.pk}">{shop.name}</a>' in page
    assert "Ich postęp:" in page


def test_a_start_refused_as_already_running_links_the_running_one(boss, shops):
    run = running(shops[0])
    response = boss.post(
        reverse("admin:integrations_integration_resync", args=[shops[0].pk]), follow=True
    )
    page = html(response)
    assert "jest już w toku" in page
    assert f'<a href="{run_page(run)}" data-run-progress="{run.pk}">' in page

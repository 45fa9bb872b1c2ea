"""Reconciliation on a schedule (services/reconcile.py): each integration's django-q2 Schedule
follows it; a prices-and-stock drift check sends back small drift by itself and asks a person
about large drift; a run in progress or an unreadable channel sends nothing and says why.

Against the sandbox over real HTTP: the catalogue is resynced first, then drifted behind xSale's
back (the sandbox's `/drift`, which answers exactly which listings it changed)."""

from datetime import time, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from integrations.engine.runner import process_chunk
from integrations.models import DriftItem, Integration, Reconciliation, ResyncRun
from integrations.services import reconcile
from integrations.services.runs import cancel_resync, start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import checked, drift_channel
from tests.run_steps import drain, resynced

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("one_chunk_per_task", "english_messages"),
]


def a_seller(username="seller", email="seller@example.com"):
    user = get_user_model().objects.create_user(username, email=email, password="pw-rec-123")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_integration", "resync_integration", "view_resyncrun"]
        )
    )
    return user


def drifted_shop(sandbox, account, *, offers, price_share, channel="woocommerce"):
    """An integration whose channel holds our catalogue, then had `price_share` of its prices
    changed by hand; returns it and the listings the sandbox changed."""
    integration = sandbox_integration(sandbox, account, channel)
    make_offers(integration, offers, photos=0)
    assert resynced(integration).sent == offers
    answer = drift_channel(sandbox, channel, account, price_share=price_share, seed=11)
    return integration, {str(change["id"]) for change in answer["changes"]["price"]}


def reconciled(integration, source="schedule") -> Reconciliation:
    """What the schedule's task and then the every-minute decision do (its e-mail goes when
    the decision commits)."""
    record = reconcile.reconcile_start(integration, source=source)
    drain(record.check_run)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert reconcile.decide_ended() == 1
    record.refresh_from_db()
    return record


def schedule_of(integration) -> Schedule | None:
    return Schedule.objects.filter(name=reconcile.schedule_name(integration.pk)).first()


# --- the schedule ------------------------------------------------------------------------------


def test_the_schedule_is_created_moved_and_removed_with_the_integration(make_integration):
    integration = make_integration(name="Nocny sklep", channel="woocommerce")
    schedule = schedule_of(integration)
    assert (schedule.func, schedule.args, schedule.cluster, schedule.repeats) == (
        "integrations.tasks.reconcile_integration",
        repr((integration.pk,)),
        "resync",
        -1,
    )
    assert schedule.schedule_type == Schedule.DAILY  # nightly by default, at 03:00 local time
    local = timezone.localtime(schedule.next_run)
    assert (local.hour, local.minute) == (3, 0)
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)

    integration.reconcile_every, integration.reconcile_at = "weekly", time(22, 30)
    integration.save()
    schedule = schedule_of(integration)
    local = timezone.localtime(schedule.next_run)
    assert (schedule.schedule_type, local.hour, local.minute) == (Schedule.WEEKLY, 22, 30)

    # A save that does not touch the schedule's fields leaves it alone.
    Schedule.objects.filter(pk=schedule.pk).update(repeats=-2)
    integration.credentials = {"consumer_key": "k", "consumer_secret": "s"}
    integration.save(update_fields=["credentials"])
    assert schedule_of(integration).repeats == -2

    integration.active = False
    integration.save()
    assert schedule_of(integration) is None
    integration.active = True
    integration.save()
    assert schedule_of(integration).schedule_type == Schedule.WEEKLY

    integration.reconcile_every = "off"
    integration.save()
    assert schedule_of(integration) is None
    integration.reconcile_every = "hourly"
    integration.save()
    assert schedule_of(integration).schedule_type == Schedule.HOURLY

    pk = integration.pk
    integration.delete()
    assert not Schedule.objects.filter(name=reconcile.schedule_name(pk)).exists()


def test_ended_checks_are_decided_every_minute_on_the_resync_cluster():
    decide = Schedule.objects.get(name=reconcile.DECIDE_SCHEDULE)
    assert (decide.func, decide.schedule_type, decide.minutes, decide.cluster) == (
        "integrations.tasks.decide_reconciliations",
        Schedule.MINUTES,
        1,
        "resync",
    )


def test_the_scheduled_task_reconciles_the_integration_it_names(make_integration, monkeypatch):
    from integrations import tasks

    integration = make_integration(name="Sklep", channel="zalando")
    tasks.reconcile_integration(integration.pk)
    tasks.reconcile_integration(integration.pk + 1000)  # deleted since: nothing, no error
    record = Reconciliation.objects.get()
    assert (record.integration, record.source) == (integration, "schedule")


# --- small drift: sent back by itself ----------------------------------------------------------


def test_one_percent_drift_is_sent_back_exactly(sandbox, sandbox_account):
    integration, changed = drifted_shop(sandbox, sandbox_account, offers=200, price_share=0.01)
    assert len(changed) == 2
    record = reconciled(integration)

    assert (record.outcome, record.active_offers, record.differing) == ("fixing", 200, 2)
    assert reconcile.decide_ended() == 0  # decided once: the next minute finds nothing to do
    assert record.checked == 200
    assert record.check_run.data_types == "prices_stock"
    found = DriftItem.objects.filter(check_run=record.check_run, kind="differs")
    assert {item.external_id for item in found} == changed
    fix = drain(record.fix_run)
    assert (fix.differing_of_id, fix.data_types, fix.total, fix.sent, fix.failed) == (
        record.check_run_id,
        "prices_stock",
        2,
        2,
        0,
    )
    assert mail.outbox == []
    # The channel holds the catalogue's values again.
    assert checked(integration, data_types="prices_stock").report["differs"] == 0


# --- large drift: nothing sent, the seller asked -----------------------------------------------


@pytest.fixture
def asked(sandbox, sandbox_account):
    seller = a_seller()
    a_seller("nomail", email="")
    integration, changed = drifted_shop(sandbox, sandbox_account, offers=200, price_share=0.10)
    record = reconciled(integration)
    return seller, integration, record, changed


def test_ten_percent_drift_sends_nothing_and_asks_by_mail_and_on_the_page(asked, client):
    seller, integration, record, changed = asked
    assert (record.outcome, record.differing, record.fix_run) == ("asked", len(changed), None)
    assert len(changed) == 20
    assert not ResyncRun.objects.filter(integration=integration, differing_of__isnull=False)
    [message] = mail.outbox
    assert message.to == ["seller@example.com"]
    assert integration.name in message.subject
    assert reverse("v2:integration_edit", args=[integration.pk]) in message.body

    client.force_login(seller)
    for layout in ("v2", "v1"):
        page = client.get(reverse(f"{layout}:integration_edit", args=[integration.pk])).content
        assert b"data-reconciliation-asks" in page
        assert b"data-reconcile-confirm" in page and b"data-reconcile-dismiss" in page
        # The stored note reads in the page's language (Polish by default).
        assert "20 z 200 aktywnych ofert się różni, więcej niż 5%" in page.decode()


def test_confirming_starts_the_fix_of_what_differs(asked, client, sandbox, sandbox_account):
    seller, integration, record, changed = asked
    client.force_login(seller)
    url = reverse("v1:reconcile_confirm", args=[integration.pk, record.pk])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.url == reverse("v1:integration_edit", args=[integration.pk])
    record.refresh_from_db()
    assert record.outcome == "confirmed"
    fix = drain(record.fix_run)
    assert (fix.source, fix.requested_by, fix.total, fix.sent) == ("v1", seller, 20, 20)
    assert checked(integration, data_types="prices_stock").report["differs"] == 0
    # Decided: a second confirmation starts nothing.
    client.post(url)
    assert ResyncRun.objects.filter(differing_of__isnull=False).count() == 1
    page = client.get(reverse("v2:integration_edit", args=[integration.pk])).content
    assert b"data-reconciliation-asks" not in page


def test_dismissing_clears_the_notice_and_sends_nothing(asked, client):
    seller, integration, record, _changed = asked
    viewer = get_user_model().objects.create_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_integration"))
    url = reverse("v2:reconcile_dismiss", args=[integration.pk, record.pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    client.force_login(seller)
    client.post(url)
    record.refresh_from_db()
    assert record.outcome == "dismissed"
    assert not ResyncRun.objects.filter(differing_of__isnull=False).exists()
    page = client.get(reverse("v2:integration_edit", args=[integration.pk])).content.decode()
    assert "data-reconciliation-asks" not in page
    assert 'data-reconciliation-outcome="dismissed"' in page


def test_a_check_that_did_not_complete_sends_nothing(sandbox, sandbox_account):
    integration, _changed = drifted_shop(sandbox, sandbox_account, offers=20, price_share=0.5)
    record = reconcile.reconcile_start(integration, source="schedule")
    cancel_resync(record.check_run)
    assert reconcile.decide_ended() == 1
    record.refresh_from_db()
    assert (record.outcome, record.fix_run) == ("failed", None)
    assert "did not complete" in record.note
    assert not ResyncRun.objects.filter(differing_of__isnull=False).exists()


# --- when nothing may be checked ---------------------------------------------------------------


def test_a_run_in_progress_skips_the_reconciliation_with_a_note(sandbox, sandbox_account):
    integration = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(integration, 5, photos=0)
    running = start_resync(integration, source="cli")
    record = reconcile.reconcile_start(integration, source="schedule")
    assert (record.outcome, record.check_run) == ("skipped", None)
    assert f"#{running.pk}" in record.note
    assert ResyncRun.objects.filter(integration=integration).count() == 1


def test_a_channel_whose_drift_is_unreadable_says_so_and_sends_nothing(sandbox, sandbox_account):
    integration = sandbox_integration(sandbox, sandbox_account, "zalando")
    make_offers(integration, 5, photos=0)
    record = reconcile.reconcile_start(integration, source="schedule")
    assert (record.outcome, record.check_run) == ("unreadable", None)
    assert "Zalando" in record.note
    assert not ResyncRun.objects.filter(integration=integration).exists()


def test_the_page_shows_the_last_reconciliation(sandbox, sandbox_account, client):
    integration, _changed = drifted_shop(sandbox, sandbox_account, offers=100, price_share=0.02)
    reconciled(integration)
    client.force_login(a_seller())
    client.cookies["django_language"] = "en"
    page = client.get(reverse("v2:integration_edit", args=[integration.pk])).content.decode()
    assert "checked 100, differing 2" in page
    assert 'data-reconciliation-outcome="fixing"' in page


# --- the command line --------------------------------------------------------------------------


def drive_the_runs(monkeypatch):
    """The command's wait drives the runs one chunk at a time, as the resync cluster would."""
    from integrations.management.commands import resync_offers

    def work(_seconds):
        for run in ResyncRun.objects.active():
            process_chunk(run.pk, run.cursor)

    monkeypatch.setattr(resync_offers.time, "sleep", work)


def test_reconcile_from_the_command_line(sandbox, sandbox_account, monkeypatch):
    integration, _changed = drifted_shop(sandbox, sandbox_account, offers=100, price_share=0.03)
    drive_the_runs(monkeypatch)
    out = StringIO()
    call_command("resync_offers", integration.name, "--reconcile", "--language", "en", stdout=out)
    text = out.getvalue()
    assert "active offers 100 · checked 100 · differing 3" in text
    assert "differing offers sent back" in text
    record = Reconciliation.objects.get()
    assert (record.source, record.outcome, record.fix_run.total) == ("cli", "fixing", 3)


def test_the_command_line_says_why_nothing_was_checked(sandbox, sandbox_account):
    integration = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(integration, 3, photos=0)
    start_resync(integration, source="cli")
    with pytest.raises(CommandError):
        call_command("resync_offers", integration.name, "--reconcile", "--language", "en")
    assert Reconciliation.objects.get().outcome == "skipped"
    assert Integration.objects.count() == 1

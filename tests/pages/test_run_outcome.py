"""Honest results on every page: outcome, history, controls, pauses, the workers' health."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from integrations.engine import skeleton
from integrations.models import ResyncRun, WorkerPresence
from integrations.presentation.display import datetime_display, duration_display
from integrations.services import runs as resync
from tests.page_fixtures import html, make_user, v1, v2

pytestmark = pytest.mark.django_db


def ended_run(shop, **fields):
    now = timezone.now()
    values = {
        "integration": shop, "source": "v2", "status": "completed", "total": 3000,
        "processed": 3000, "sent": 3000, "failed": 0, "started_at": now - timedelta(minutes=75),
        "finished_at": now,
    }  # fmt: skip
    values.update(fields)
    return ResyncRun.objects.create(**values)


def test_a_run_with_failures_is_completed_with_errors_in_amber(seller, shop):
    ended_run(shop, sent=2500, failed=500, photo_files_sent=7400, photos_sent=2500)
    for url in (v2("integration_edit", shop.pk), v1("integration_edit", shop.pk)):
        page = html(seller.get(url))
        assert 'class="status status-completed_with_errors"' in page
        assert "zakończona z błędami" in page
        assert 'class="stat-failed is-bad"' in page  # NIEUDANE highlighted
        assert ">7400<" in page  # photos sent count photo files, not offers
    assert "zakończona z błędami" in html(seller.get(v2("integration_list")))


def test_a_clean_run_is_completed_with_its_end_time_and_duration(seller, shop):
    run = ended_run(shop)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert 'data-status="completed"' in page and ">zakończona<" in page
    assert "1 h 15 min" in page
    assert datetime_display(run.finished_at) in page  # the locale's short date style
    assert datetime_display(run.finished_at).startswith(
        timezone.localtime(run.finished_at).strftime("%d-%m-%Y")
    )


@pytest.mark.parametrize(
    ("status", "word"),
    [
        ("queued", "w kolejce"), ("running", "trwa"), ("cancelling", "anulowanie…"),
        ("cancelled", "anulowana"), ("failed", "nieudana"), ("paused", "wstrzymana"),
    ],
)  # fmt: skip
def test_status_words_agree_with_the_feminine_resynchronizacja(shop, status, word):
    run = ResyncRun(integration=shop, source="v2", status=status, pk=3)
    assert run.outcome_display == word
    assert str(run) == f"Resynchronizacja #3 — Sklep Woo, {word}"


def test_the_history_lists_every_run_newest_first_the_current_one_included(seller, shop):
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "nie była jeszcze resynchronizowana" in page
    first = ended_run(shop)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "nie była jeszcze resynchronizowana" not in page
    assert f'data-run="{first.pk}"' in page
    second = ended_run(shop, failed=2, sent=2998)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert page.index(f'data-run="{second.pk}"') < page.index(f'data-run="{first.pk}"')
    assert reverse("v2:resync_run", args=[shop.pk, second.pk]) in page


def test_the_history_pages_back_by_keyset(seller, shop):
    runs = [ended_run(shop) for _ in range(25)]
    first = seller.get(v2("integration_edit", shop.pk))
    assert [r.pk for r in first.context["history"]] == [r.pk for r in runs[::-1][:20]]
    older = seller.get(
        v2("integration_edit", shop.pk), {"runs_before": first.context["history_older"]}
    )
    assert [r.pk for r in older.context["history"]] == [r.pk for r in runs[::-1][20:]]


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_while_a_run_is_active_the_start_button_leads_to_its_progress(seller, shop, layout):
    ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    page = html(seller.get(reverse(f"{layout}:integration_edit", args=[shop.pk])))
    assert "Trwa resynchronizacja — zobacz postęp" in page
    assert 'href="#resync-panel"' in page
    confirm = html(seller.get(reverse(f"{layout}:resync_confirm", args=[shop.pk])))
    assert "już trwa" in confirm
    assert "Tak, uruchom resynchronizację" not in confirm


def test_cancel_asks_first_and_shows_cancelling_disabled(seller, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "data-confirm=" in page and "Anulować tę resynchronizację?" in page
    assert "xsale/resync-controls.js" in page
    run.status = "cancelling"
    run.save()
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "data-cancel-button" in page
    assert "disabled>anulowanie…</button>" in page


def test_a_cancelled_run_offers_resume(seller, shop):
    ended_run(shop, status="cancelled", processed=1200, sent=1200)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "Wznów" in page and v2("resync_resume", shop.pk) in page


@pytest.mark.skipif(
    not hasattr(resync, "resume_resync"),
    reason="resync.resume_resync lands with the lead's engine work",
)
def test_resume_goes_on_from_where_the_run_stopped(seller, shop, monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)
    run = ended_run(shop, status="cancelled", total=30, processed=10, sent=10, cursor=10)
    response = seller.post(v2("resync_resume", shop.pk), {"run": run.pk})
    assert response.status_code == 302
    resumed = ResyncRun.objects.order_by("-pk").first()
    assert resumed.is_active
    assert resumed.requested_by.username == "seller"


def test_a_paused_run_shows_why_and_until_when(seller, shop):
    until = timezone.now() + timedelta(minutes=40)
    reason = "Allegro's hourly limit of 74,700 edits reached — continuing at 15:00"
    ResyncRun.objects.create(
        integration=shop, source="v2", status="paused", total=30, processed=10,
        started_at=timezone.now() - timedelta(minutes=5), paused_until=until, pause_reason=reason,
    )  # fmt: skip
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert escape(reason) in page
    assert timezone.localtime(until).strftime("%H:%M") in page
    assert "wstrzymana" in page


def test_a_missing_resync_worker_is_said_on_the_pages(seller, shop):
    health = "Nie działa proces resynchronizacji — uruchom <code>resync</code>"
    assert health in html(seller.get(v2("integration_edit", shop.pk)))
    assert health in html(seller.get(v2("resync_confirm", shop.pk)))
    WorkerPresence.objects.create(name="resync@h:1", cluster="resync", seen_at=timezone.now())
    assert health not in html(seller.get(v2("integration_edit", shop.pk)))
    WorkerPresence.objects.update(seen_at=timezone.now() - timedelta(seconds=90))
    assert health not in html(seller.get(v2("integration_list")))
    assert health in html(seller.get(v1("integration_edit", shop.pk)))


def test_long_estimates_read_in_days_and_hours():
    assert duration_display(3600) == "1 h"
    assert duration_display(200 * 3600) == "8 dni 8 h"
    assert duration_display(51 * 3600) == "2 dni 3 h"
    assert duration_display(24 * 3600) == "1 dzień"


def test_the_progress_json_has_the_outcome_and_smoothed_pace(seller, shop):
    now = timezone.now()
    minute = int(now.timestamp()) // 60 * 60
    ResyncRun.objects.create(
        integration=shop, source="v2", status="running", total=3000, processed=1200,
        started_at=now - timedelta(minutes=10),
        samples=[[minute - 60 * n, 120] for n in range(10, 0, -1)],
    )  # fmt: skip
    data = seller.get(v2("resync_progress", shop.pk)).json()
    assert data["outcome"] == "running" and data["outcome_display"] == "trwa"
    # ~120 a minute over the last five minutes (the current minute has no sample yet).
    assert 90 <= data["rate_per_minute"] <= 130
    assert 1800 * 60 / 130 <= data["eta_seconds"] <= 1800 * 60 / 90


def test_the_admin_lists_runs_by_a_readable_name_and_outcome(client, shop):
    client.force_login(make_user("boss", superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pl"
    run = ended_run(shop, failed=5)
    page = html(client.get(reverse("admin:integrations_resyncrun_changelist")))
    assert f"Resynchronizacja #{run.pk} — Sklep Woo, zakończona z błędami" in page
    assert "status-completed_with_errors" in page


def test_the_admin_change_page_can_cancel_the_running_resync(client, shop, monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)
    client.force_login(make_user("boss", superuser=True))
    # A task works on it (holds its lease): the cancel is asked, the task ends it.
    run = ResyncRun.objects.create(
        integration=shop,
        source="v2",
        status="running",
        total=30,
        lease_token="t",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    page = html(client.get(reverse("admin:integrations_integration_change", args=[shop.pk])))
    cancel_url = reverse("admin:integrations_integration_resync_cancel", args=[shop.pk])
    assert cancel_url in page and "data-confirm=" in page
    response = client.post(cancel_url, {"run": run.pk})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelling"


def test_english_is_complete_on_the_new_pages(seller, english, shop):
    run = ended_run(shop, failed=2, sent=2998, samples=[[1_800_000_000, 10]])
    pages = [
        html(seller.get(v2("integration_edit", shop.pk))),
        html(seller.get(reverse("v2:resync_run", args=[shop.pk, run.pk]))),
    ]
    assert "completed with errors" in pages[0] and "Finished at" in pages[0]
    assert "Resync history" in pages[0] and "The resync process is not running" in pages[0]
    assert "Offers per minute" in pages[1] and "Export CSV" in pages[1]
    for page in pages:
        for polish in ("zakończona", "Wznów", "Ponów", "Oferty na minutę", "Eksportuj"):
            assert polish not in page

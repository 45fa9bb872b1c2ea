"""The V1 and V2 pages, the resync controls, the sync log and the admin's resync (test client)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.engine import skeleton
from integrations.models import ResyncFailure, ResyncRun
from integrations.presentation.display import duration_display
from integrations.services import estimates
from offers.models import Offer, SiteJournal
from tests.page_fixtures import SECRETS, html, make_user, v1, v2

pytestmark = pytest.mark.django_db


# --- Access -------------------------------------------------------------------------------------


def test_home_goes_to_the_v2_integration_list(seller):
    response = seller.get("/")
    assert response.status_code == 302
    assert response["Location"] == v2("integration_list")


@pytest.mark.parametrize(
    "url",
    [
        lambda pk: v2("integration_list"),
        lambda pk: v2("integration_edit", pk),
        lambda pk: v2("resync_confirm", pk),
        lambda pk: v2("resync_progress", pk),
        lambda pk: v2("sync_log"),
        lambda pk: v1("integration_list"),
        lambda pk: v1("integration_edit", pk),
    ],
)
def test_anonymous_users_are_sent_to_login(client, shop, url):
    response = client.get(url(shop.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_anonymous_post_starts_nothing(client, shop):
    response = client.post(v2("resync_confirm", shop.pk))
    assert response.status_code == 302
    assert not ResyncRun.objects.exists()


def test_the_login_page_is_the_products_own(client):
    page = html(client.get(reverse("login")))
    assert 'name="username"' in page
    assert "xsale/v2.css" in page
    assert "Zaloguj" in page  # Polish by default


def test_logging_in_lands_on_the_integration_list(client, shop):
    make_user("anna", password="pw-anna")
    response = client.post(reverse("login"), {"username": "anna", "password": "pw-anna"})
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == v2(
        "integration_list"
    )


# --- Lists and edit pages -----------------------------------------------------------------------


def test_the_v2_menu_and_list_show_integrations_and_their_last_resync(seller, shop):
    ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=30, processed=30, sent=28,
        failed=2,
    )  # fmt: skip
    page = html(seller.get(v2("integration_list")))
    assert ">Integracje<" in page
    assert "Logi synchronizacji" in page
    assert "Sklep Woo" in page
    assert "WooCommerce" in page
    assert "zakończona z błędami" in page  # the last run's honest outcome
    assert v2("integration_edit", shop.pk) in page


def test_the_v1_menu_leads_to_the_same_integrations(seller, shop):
    page = html(seller.get(v1("integration_list")))
    for label in ("Konfiguracja", "Ogólne", "Integracje"):
        assert label in page
    assert "xsale/v1.css" in page
    assert v1("integration_edit", shop.pk) in page


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_edit_page_has_the_resync_button_for_a_user_allowed_to_resync(seller, shop, layout):
    page = html(seller.get(reverse(f"{layout}:integration_edit", args=[shop.pk])))
    assert "Resynchronizuj oferty" in page
    assert reverse(f"{layout}:resync_confirm", args=[shop.pk]) in page


def test_the_v1_button_is_below_the_form_and_the_v2_button_above_it(seller, shop):
    v1_page = html(seller.get(v1("integration_edit", shop.pk)))
    assert v1_page.index("data-resync-button") > v1_page.index("</form>")
    v2_page = html(seller.get(v2("integration_edit", shop.pk)))
    assert v2_page.index("data-resync-button") < v2_page.index('class="card form-card"')


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_credentials_are_never_in_the_html(seller, shop, layout):
    url = reverse(f"{layout}:integration_edit", args=[shop.pk])
    pages = [
        seller.get(url),
        seller.post(url, {"name": "", "channel": "woocommerce", "api_url": "bad"}),  # errors
        seller.get(reverse(f"{layout}:resync_confirm", args=[shop.pk])),
        seller.get(reverse(f"{layout}:integration_list")),
    ]
    for response in pages:
        page = html(response)
        for secret in SECRETS.values():
            assert secret not in page
    assert 'name="secret_consumer_key"' in html(pages[0])


def test_saving_the_form_keeps_secrets_left_empty(seller, shop):
    response = seller.post(
        v2("integration_edit", shop.pk),
        {
            "name": "Sklep Woo 2",
            "channel": "woocommerce",
            "api_url": shop.api_url,  # a changed URL drops the secrets: test_security_secrets
            "requests_per_minute": "30",
            "active": "on",
            "secret_consumer_secret": "cs_new",
        },
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.name == "Sklep Woo 2"
    assert shop.credentials == {**SECRETS, "consumer_secret": "cs_new"}


def test_a_user_without_change_permission_cannot_save(viewer, shop):
    response = viewer.post(v2("integration_edit", shop.pk), {"name": "hacked"})
    assert response.status_code == 403
    shop.refresh_from_db()
    assert shop.name == "Sklep Woo"


# --- Warning, start, already running ------------------------------------------------------------


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_warning_shows_the_offer_count_and_the_estimate(seller, shop, layout):
    page = html(seller.get(reverse(f"{layout}:resync_confirm", args=[shop.pk])))
    estimate = duration_display(estimates.resync_estimate_seconds(shop, 30))
    assert "30 ofert" in page
    assert f"około {estimate}" in page
    assert "duży ruch" in page  # heavy traffic …
    assert "w ostateczności" in page  # … as a last resort
    assert "Allegro i Zalando" in page  # what is sent: photos rule
    assert 'name="csrfmiddlewaretoken"' in page
    assert not ResyncRun.objects.exists()  # nothing starts before the confirmation


def test_the_estimate_names_its_limit_and_the_resyncs_sharing_it(seller, make_integration):
    from tests.catalogue import make_offers

    first = make_integration(name="Allegro A")  # both on the demo client id: one application
    second = make_integration(name="Allegro B")
    make_offers(first, 5, photos=0)
    ResyncRun.objects.create(integration=second, source="v2", status="running", total=10)

    page = html(seller.get(v2("resync_confirm", first.pk)))

    assert "wyznacza go: Limit" in page
    assert "wspólny limit z 1 trwającą resynchronizacją" in page


def test_the_estimate_follows_the_integrations_limit(seller, shop):
    # WooCommerce: batches of 100 at the integration's 6 requests a minute, of which the budget
    # uses 60/61 (its slots) → 590 offers a minute: 30 offers in 3.05 s, shown rounded up.
    assert "około 4 s" in html(seller.get(v2("resync_confirm", shop.pk)))
    shop.requests_per_minute = None  # the channel's published 60 a minute: 6,000 offers a minute
    shop.save()
    assert "około 1 s" in html(seller.get(v2("resync_confirm", shop.pk)))


def test_durations_read_well():
    assert duration_display(59) == "59 s"
    assert duration_display(61) == "1 min 1 s"  # issue 20.8: seconds under 2 minutes (was "2 min")
    assert duration_display(3 * 3600 + 5 * 60) == "3 h 5 min"


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_confirming_starts_a_run_from_that_layout(seller, shop, layout):
    response = seller.post(reverse(f"{layout}:resync_confirm", args=[shop.pk]), follow=True)
    run = ResyncRun.objects.get()
    assert (run.source, run.status, run.total) == (layout, "queued", 30)
    assert run.requested_by.username == "seller"
    assert response.redirect_chain[-1][0] == reverse(f"{layout}:integration_edit", args=[shop.pk])
    page = html(response)
    assert "w tle" in page  # runs in the background …
    assert "zamknąć przeglądarkę" in page  # … the browser may be closed
    assert f"?run={run.pk}" in page  # the progress panel polls this run


def test_a_second_start_says_already_running(seller, english, shop):
    seller.post(v2("resync_confirm", shop.pk))
    response = seller.post(v1("resync_confirm", shop.pk), follow=True)
    assert ResyncRun.objects.count() == 1
    assert "already running" in html(response)


def test_an_inactive_integration_is_refused_with_the_reason(seller, english, shop):
    shop.active = False
    shop.save()
    response = seller.post(v2("resync_confirm", shop.pk), follow=True)
    assert not ResyncRun.objects.exists()
    assert "inactive" in html(response)


# --- Permission ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_without_the_permission_there_is_status_and_history_but_no_button(viewer, shop, layout):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    page = html(viewer.get(reverse(f"{layout}:integration_edit", args=[shop.pk])))
    assert "Resynchronizuj oferty" not in page
    assert "data-resync-progress" in page
    assert "resync-history" in page
    assert "data-cancel-button" not in page
    run.status = "completed"
    run.save()
    ResyncFailure.objects.create(run=run, offer=Offer.objects.first(), http_status=400)
    page = html(viewer.get(reverse(f"{layout}:integration_edit", args=[shop.pk])))
    assert "Ponów nieudane" not in page


def test_forged_posts_without_the_permission_are_refused(viewer, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    assert viewer.get(v2("resync_confirm", shop.pk)).status_code == 403
    for url in (v2("resync_confirm", shop.pk), v1("resync_confirm", shop.pk)):
        assert viewer.post(url).status_code == 403
    assert viewer.post(v2("resync_cancel", shop.pk), {"run": run.pk}).status_code == 403
    assert viewer.post(v2("resync_retry", shop.pk), {"run": run.pk}).status_code == 403
    assert ResyncRun.objects.get().status == "running"


def test_the_progress_json_is_open_to_viewers(viewer, shop):
    ResyncRun.objects.create(integration=shop, source="v2", total=30)
    assert viewer.get(v2("resync_progress", shop.pk)).status_code == 200


# --- Cancel, retry failed, progress -------------------------------------------------------------


def test_cancel_asks_the_run_to_stop(seller, shop, monkeypatch):
    nudged = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: nudged.append(run_id))
    # A task works on it (holds its lease): it sees the flag before its next chunk.
    run = ResyncRun.objects.create(
        integration=shop,
        source="v2",
        status="running",
        total=30,
        lease_token="t",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    response = seller.post(v1("resync_cancel", shop.pk), {"run": run.pk})
    assert response.status_code == 302
    assert response["Location"] == v1("integration_edit", shop.pk)
    run.refresh_from_db()
    assert run.status == "cancelling"
    assert nudged == []  # the working task finishes it


def test_cancelling_a_run_nobody_works_on_ends_it_at_once(seller, shop):
    paused = ResyncRun.objects.create(
        integration=shop,
        source="v2",
        status="paused",
        total=30,
        paused_until=timezone.now() + timedelta(minutes=20),
    )
    seller.post(v2("resync_cancel", shop.pk), {"run": paused.pk})
    paused.refresh_from_db()
    assert paused.status == "cancelled" and paused.finished_at is not None


def test_cancel_only_takes_post(seller, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    assert seller.get(v2("resync_cancel", shop.pk), {"run": run.pk}).status_code == 405


def test_cancel_refuses_a_run_of_another_integration(seller, shop, make_integration):
    other = make_integration(name="Other")
    run = ResyncRun.objects.create(integration=other, source="v2", status="running")
    assert seller.post(v2("resync_cancel", shop.pk), {"run": run.pk}).status_code == 404
    assert ResyncRun.objects.get().status == "running"


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_an_ended_run_lists_its_failures_by_reason_with_a_retry_button(seller, failed_run, layout):
    page = html(seller.get(reverse(f"{layout}:integration_edit", args=[failed_run.integration_id])))
    assert "SKU zajęte" in page and "invalid_sku" in page
    assert "Ponów nieudane" in page
    assert "data-cancel-button" not in page
    run_page = reverse(f"{layout}:resync_run", args=[failed_run.integration_id, failed_run.pk])
    assert run_page in page
    page = html(seller.get(run_page))
    assert "W-000" in page and "Kubek 2" in page and "SKU zajęte" in page and "400" in page


def test_retry_failed_starts_a_run_of_the_failed_offers(seller, failed_run):
    shop = failed_run.integration
    response = seller.post(v2("resync_retry", shop.pk), {"run": failed_run.pk})
    assert response.status_code == 302
    retry = ResyncRun.objects.exclude(pk=failed_run.pk).get()
    assert (retry.retry_of, retry.total, retry.source) == (failed_run, 3, "v2")


def test_retry_of_a_run_without_failures_says_why(seller, english, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed", total=30)
    response = seller.post(v1("resync_retry", shop.pk), {"run": run.pk}, follow=True)
    assert ResyncRun.objects.count() == 1
    assert "no failed offers" in html(response)


def test_the_progress_json_has_what_the_panel_shows(seller, shop, failed_run):
    running = ResyncRun.objects.create(
        integration=shop, source="v1", status="running", total=30, processed=12, sent=11,
        failed=1, photos_sent=4, started_at=timezone.now() - timedelta(seconds=6),
    )  # fmt: skip
    data = seller.get(v2("resync_progress", shop.pk)).json()
    assert data["id"] == running.pk  # the latest run by default
    for key in (
        "status", "status_display", "active", "total", "processed", "sent", "failed",
        "photos_sent", "percent", "percent_display", "rate_per_second", "rate_display",
        "eta_seconds", "eta_display", "requested_by", "started_at", "started_display",
    ):  # fmt: skip
        assert key in data, key
    assert (data["processed"], data["total"], data["sent"], data["failed"]) == (12, 30, 11, 1)
    assert data["photos_sent"] == 4
    assert data["percent"] == 40.0 and data["percent_display"] == "40"
    assert data["active"] is True
    assert data["eta_seconds"] and data["eta_seconds"] > 0
    older = seller.get(v2("resync_progress", shop.pk), {"run": failed_run.pk}).json()
    assert (older["id"], older["active"], older["status"]) == (failed_run.pk, False, "completed")


def test_the_progress_json_of_an_integration_without_runs(seller, shop):
    assert seller.get(v2("resync_progress", shop.pk)).json() == {"id": None, "active": False}


def test_the_panel_carries_its_endpoint_in_data_attributes_and_no_inline_script(seller, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="running", total=30)
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert f'data-progress-url="{v2("resync_progress", shop.pk)}?run={run.pk}"' in page
    assert 'data-active="true"' in page
    assert "xsale/resync-progress.js" in page
    assert "<script>" not in page and "<script type" not in page
    assert "onclick" not in page


# --- The sync log -------------------------------------------------------------------------------


def entry_ids(response):
    return [row.pk for row in response.context["rows"]]


def test_the_sync_log_pages_by_keyset_newest_first(seller, journal):
    expected = list(
        SiteJournal.objects.filter(synced_at__isnull=False)
        .order_by("-synced_at", "-pk")
        .values_list("pk", flat=True)
    )
    assert len(expected) == 120
    first = seller.get(v2("sync_log"))
    assert entry_ids(first) == expected[:50]
    assert first.context["previous_url"] is None
    second = seller.get(v2("sync_log") + first.context["next_url"])
    assert entry_ids(second) == expected[50:100]
    third = seller.get(v2("sync_log") + second.context["next_url"])
    assert entry_ids(third) == expected[100:]
    assert third.context["next_url"] is None
    back = seller.get(v2("sync_log") + third.context["previous_url"])
    assert entry_ids(back) == expected[50:100]
    back_to_first = seller.get(v2("sync_log") + back.context["previous_url"])
    assert entry_ids(back_to_first) == expected[:50]
    assert back_to_first.context["previous_url"] is None


def test_the_sync_log_never_counts_or_offsets(seller, journal):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = seller.get(v2("sync_log"))
    with CaptureQueriesContext(connection) as queries:
        seller.get(v2("sync_log") + first.context["next_url"])
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql


def test_the_sync_log_filters(seller, journal):
    def rows(**params):
        return seller.get(v2("sync_log"), params).context["rows"]

    assert {r.status for r in rows(status="error")} == {"error"}
    assert len(rows(status="error")) == 12
    assert {r.integration.channel for r in rows(channel="allegro")} == {"allegro"}
    assert [r.offer.sku for r in rows(q="J-007")] == ["J-007", "J-007"]
    assert {r.offer.name for r in rows(q="lampka 1")} >= {"Lampka 1", "Lampka 10"}
    priced = rows(price_min="10", price_max="19")
    assert sorted(r.price_sent for r in priced) == [Decimal(n) for n in range(10, 20)]
    assert {r.currency_sent for r in rows(currency="eur")} == {"EUR"}
    day = timezone.localdate(journal[0].synced_at)
    dated = rows(date_from=day.isoformat(), date_to=day.isoformat())
    assert dated and all(timezone.localdate(r.synced_at) == day for r in dated)
    assert rows(date_from="2001-01-01", date_to="2001-01-02") == []
    # The filters are kept in the page links.
    response = seller.get(v2("sync_log"), {"status": "ok"})
    assert "status=ok" in response.context["next_url"]


def test_the_sync_log_shows_what_was_sent(seller, journal):
    page = html(seller.get(v2("sync_log"), {"q": "J-000"}))
    assert "J-000" in page and "Lampka 0" in page and "odrzucone" in page
    assert "Sklep Woo" in page
    assert "Logi synchronizacji" in page


def test_a_forged_cursor_is_ignored(seller, journal):
    assert seller.get(v2("sync_log"), {"after": "not-a-cursor!"}).status_code == 200


# --- Language -----------------------------------------------------------------------------------


def test_english_can_be_chosen_with_the_switch(seller, shop):
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert 'action="/i18n/setlang/"' in page
    response = seller.post(
        "/i18n/setlang/", {"language": "en", "next": v2("integration_edit", shop.pk)}
    )
    assert response.status_code == 302
    page = html(seller.get(v2("integration_edit", shop.pk)))
    assert "Resync offers" in page
    assert "Resynchronizuj oferty" not in page
    assert ">Integrations<" in html(seller.get(v1("integration_list")))


def test_polish_plural_forms():
    from django.utils import translation
    from django.utils.translation import ngettext

    with translation.override("pl"):
        words = [
            ngettext("%(counter)s offer", "%(counter)s offers", n) % {"counter": n}
            for n in (1, 2, 5, 12, 22, 25, 104)
        ]
    assert words == [
        "1 oferta", "2 oferty", "5 ofert", "12 ofert", "22 oferty", "25 ofert", "104 oferty"
    ]  # fmt: skip


# --- The admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client):
    client.force_login(make_user("boss", superuser=True))
    return client


def test_the_admin_action_asks_first_with_counts_and_estimates(admin_client_, shop):
    url = reverse("admin:integrations_integration_changelist")
    response = admin_client_.post(url, {"action": "resync_offers", "_selected_action": [shop.pk]})
    assert response.status_code == 200
    page = html(response)
    assert "duży ruch" in page
    assert "30 ofert" in page
    assert 'name="post" value="yes"' in page
    assert not ResyncRun.objects.exists()


def test_the_admin_action_starts_and_skips_running_ones(admin_client_, shop, make_integration):
    other = make_integration(name="Allegro PL")
    busy = ResyncRun.objects.create(integration=other, source="v2", status="running")
    url = reverse("admin:integrations_integration_changelist")
    response = admin_client_.post(
        url,
        {"action": "resync_offers", "_selected_action": [shop.pk, other.pk], "post": "yes"},
        follow=True,
    )
    started = ResyncRun.objects.exclude(pk=busy.pk).get()
    assert (started.integration, started.source) == (shop, "admin")
    page = html(response)
    assert "Allegro PL" in page and "jest już w toku" in page
    assert ResyncRun.objects.filter(integration=other).count() == 1


def test_the_admin_action_needs_the_permission(client, shop):
    client.force_login(make_user("clerk", "view_integration", "change_integration"))
    url = reverse("admin:integrations_integration_changelist")
    assert "resync_offers" not in html(client.get(url))
    client.post(url, {"action": "resync_offers", "_selected_action": [shop.pk], "post": "yes"})
    assert not ResyncRun.objects.exists()
    assert client.get(
        reverse("admin:integrations_integration_resync", args=[shop.pk])
    ).status_code == 403  # fmt: skip


def test_the_admin_change_page_has_a_resync_button_and_the_progress(admin_client_, shop):
    ResyncRun.objects.create(integration=shop, source="cli", status="running", total=30)
    page = html(admin_client_.get(reverse("admin:integrations_integration_change", args=[shop.pk])))
    assert reverse("admin:integrations_integration_resync", args=[shop.pk]) in page
    assert "Resynchronizuj oferty" in page
    assert "data-resync-progress" in page
    for secret in SECRETS.values():
        assert secret not in page


def test_the_admin_change_page_button_confirms_then_starts(admin_client_, shop):
    url = reverse("admin:integrations_integration_resync", args=[shop.pk])
    page = html(admin_client_.get(url))
    assert "30 ofert" in page and "duży ruch" in page
    assert not ResyncRun.objects.exists()
    response = admin_client_.post(url)
    assert response.status_code == 302
    assert ResyncRun.objects.get().source == "admin"


def test_resync_runs_are_read_only_in_the_admin_with_their_failures(admin_client_, failed_run):
    url = reverse("admin:integrations_resyncrun_change", args=[failed_run.pk])
    page = html(admin_client_.get(url))
    assert "data-resync-progress" in page
    # The failures are on the run's page (grouped, paged, exported), linked from here.
    assert reverse("v2:resync_run", args=[failed_run.integration_id, failed_run.pk]) in page
    assert 'type="submit" value="Zapisz"' not in page
    assert admin_client_.get(reverse("admin:integrations_resyncrun_add")).status_code == 403
    listing = html(admin_client_.get(reverse("admin:integrations_resyncrun_changelist")))
    assert "Sklep Woo" in listing

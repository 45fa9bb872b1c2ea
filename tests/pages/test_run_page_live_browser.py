"""The run page as a seller watches it live: headless Chromium polling the V2 run page of a
real run (a resync worker, the sandbox) of a shop limited to 12 requests a minute, so that the
run goes in a burst, pauses, and goes on. The figures agree on every poll: the pace is never
above the limit line, the time left does not swing, the plot appears without a reload."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import Error as PlaywrightError

from integrations.models import ResyncRun
from integrations.services.runs import start_resync
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import PASSWORD, browser_marks

pytestmark = [pytest.mark.slow, *browser_marks]


@pytest.fixture
def page(signed_in):
    user = get_user_model().objects.create_user("ola", password=PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_integration", "view_resyncrun", "resync_integration"]
        )
    )
    tab = signed_in(user)
    tab.user = user
    return tab


def seconds_of(text: str) -> int | None:
    found = re.findall(r"(\d+)\s*(h|min|s)\b", text)
    return sum(int(n) * {"h": 3600, "min": 60, "s": 1}[u] for n, u in found) if found else None


def number_of(text: str) -> int | None:
    digits = re.sub(r"\D", "", text.split("/")[0])
    return int(digits) if digits else None


def test_a_live_run_page_agrees_with_itself_on_every_poll(
    page, sandbox, sandbox_account, resync_worker
):
    shop = sandbox_integration(
        sandbox, sandbox_account, "woocommerce", name="Sklep 12", requests_per_minute=12
    )
    make_offers(shop, 1400, photos=0)  # a minute's 1,200 at once, then a pause, then 200
    run = start_resync(shop, user=page.user, source="v2")
    page.goto(f"/integrations/{shop.pk}/runs/{run.pk}/")
    assert "Wykres pojawi się" in page.inner_text(".run-plot-card")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    seen, paused_seen, deadline = [], False, time.monotonic() + 150
    while time.monotonic() < deadline:
        if ResyncRun.objects.get(pk=run.pk).status == "completed":
            break
        panel = page.locator(".resync-panel")
        pace = number_of(panel.locator("[data-field=rate_display]").inner_text())
        eta = seconds_of(panel.locator("[data-field=eta_display]").inner_text())
        processed = number_of(panel.locator("[data-field=processed]").inner_text())
        limit = page.locator("[data-plot] .plot-limit")
        try:
            same = page.evaluate("window.sameDocument === true")
        except PlaywrightError:  # a reload under way: only the run's end may cause it
            page.wait_for_load_state()
            same = False
        if not same:  # the run ended and the page reloaded itself
            assert not ResyncRun.objects.get(pk=run.pk).is_active, "reloaded mid-run"
            break
        line = int(limit.get_attribute("data-limit")) if limit.count() else None
        seen.append((pace, eta, processed, line))
        paused_seen |= "wstrzymana" in panel.locator("[data-field=outcome_display]").inner_text()
        time.sleep(1)
    assert paused_seen, "the run should pause once its minute of requests is spent"
    with_offers = [s for s in seen if s[2]]
    assert with_offers, resync_worker.output()[-2000:]
    # The plot is there, without a reload, once offers are out, with the channel's line.
    assert all(line == 1200 for _p, _e, _n, line in with_offers[1:])
    # Never above the line the plot draws (1,200 offers a 12-request minute, not 6,000).
    assert all(pace <= 1200 for pace, _e, _n, _l in seen if pace is not None)
    # The time left does not swing: from one poll to the next it never goes up by more than a
    # few seconds (it went 40 s → 1 min 9 s at the first pause before).
    etas = [eta for _p, eta, _n, _l in seen if eta is not None]
    assert etas and all(b - a <= 5 for a, b in zip(etas, etas[1:], strict=False)), etas

"""Logs and the demo: progress polls leave no access line unless they fail, every log line is in
UTC (gunicorn's too), the demo user has an e-mail, the showcase scenario sets up failures, a
pause and drift, announce_ready waits for the web."""

import logging
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.services import drift
from tests.run_steps import drain

pytestmark = pytest.mark.django_db


# --- 14. logs and the demo ---------------------------------------------------------------------


def access_record(path: str, status: str) -> logging.LogRecord:
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(U)s", (), None)
    record.args = {"U": path, "s": status}
    return record


def test_progress_polls_leave_no_access_line_unless_they_fail():
    from xsale.logs import NoProgressPolls

    keep = NoProgressPolls().filter
    assert not keep(access_record("/integrations/1/resync/progress.json", "200"))
    assert keep(access_record("/integrations/1/resync/progress.json", "500"))
    assert keep(access_record("/integrations/1/", "200"))


def test_every_log_line_is_in_utc():
    from xsale.logs import UtcFormatter

    record = logging.LogRecord("x", logging.INFO, "", 0, "m", (), None)
    record.created = 0.0
    record.msecs = 0.0
    assert UtcFormatter().format(record).startswith("1970-01-01T00:00:00.000Z INFO x m")


def test_gunicorn_takes_the_same_logging():
    namespace = {}
    exec(Path("xsale/gunicorn_conf.py").read_text(), namespace)  # noqa: S102 - our own config
    assert namespace["logconfig_dict"]["loggers"]["gunicorn.access"]["handlers"] == ["access"]
    assert "%(t)s" not in namespace["access_log_format"]  # the time is the formatter's, UTC
    assert "--config python:xsale.gunicorn_conf" in Path("Procfile").read_text()


def test_the_demo_user_has_an_email():
    from integrations.services.demo import seed_demo_user

    assert seed_demo_user().email


def test_the_showcase_scenario_sets_up_failures_a_pause_and_drift(
    sandbox, sandbox_account, settings
):
    from integrations.models import Integration
    from integrations.services.demo import seed_integrations, seed_offers, showcase_sandbox

    settings.SANDBOX_URL = sandbox.url
    sandbox.reset("allegro", "demo")
    try:
        integrations = seed_integrations()
        seed_offers(40, integrations)
        done = showcase_sandbox(sandbox.url)
        assert len(done) == 3
        state = sandbox.state("allegro", "demo")
        assert state["config"]["reject_name_pattern"]
        assert Integration.objects.get(channel="woocommerce").requests_per_minute == 12
        check = drift.start_check(Integration.objects.get(channel="allegro"), source="cli")
        check = drain(check)
        assert check.report["differs"] and check.report["missing"] == 2
    finally:
        sandbox.reset("allegro", "demo")


def test_announce_ready_waits_for_the_web(live_server, settings):
    from integrations.models import WorkerPresence

    WorkerPresence.objects.create(name="resync@t", cluster="resync", seen_at=timezone.now())
    port = live_server.url.rsplit(":", 1)[1]
    started = time.monotonic()
    from io import StringIO

    out = StringIO()
    call_command("announce_ready", "--web-port", port, "--timeout", "10", stdout=out)
    assert time.monotonic() - started < 10
    assert f"http://127.0.0.1:{port}/admin/" in out.getvalue() and "Ready" in out.getvalue()

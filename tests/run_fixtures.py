"""Fixtures for tests that drive a run's tasks themselves (tests/run_steps.py), registered in
tests/conftest.py's pytest_plugins."""

import pytest


@pytest.fixture
def handed_on(monkeypatch) -> list[int]:
    """Tasks are driven in the test, not by a broker: what the engine would enqueue (each
    task's cursor) is kept here instead."""
    from integrations.engine import skeleton

    handed: list[int] = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: handed.append(cursor))
    return handed


@pytest.fixture
def amazon_in_feeds(sandbox, sandbox_account, settings):
    """An Amazon integration of 20 offers with a photo each whose resync goes in feeds of at
    most 8 messages, the sandbox processing feeds and reports in tenths of a second."""
    from tests.amazon_models import amazon_integration
    from tests.catalogue import make_offers

    settings.RESYNC_TASK_SECONDS = 0  # one step per task, as a short time box would do
    settings.AMAZON_FEED_THRESHOLD = 10  # these small runs go in feeds
    settings.AMAZON_FEED_MAX_MESSAGES = 8  # 20 offers: feeds of 8, 8 and 4 messages
    settings.SITE_URL = "https://xsale.example.pl"
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.3,
        report_processing_seconds=0.3,
    )
    integration = amazon_integration(sandbox, sandbox_account)
    make_offers(integration, 20, photos=1)
    return integration

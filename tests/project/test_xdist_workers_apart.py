"""`make test` runs in pytest-xdist processes that share nothing a test writes: each has its own
test database, Redis database, budget store and sandbox (tests/xdist_worker.py)."""

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.xdist_worker import redis_url_of_worker

WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def test_each_worker_counts_down_from_the_urls_redis_database():
    url = "redis://127.0.0.1:6379/15"
    assert redis_url_of_worker(url, "gw0") == url
    assert redis_url_of_worker(url, "gw1") == "redis://127.0.0.1:6379/14"
    assert redis_url_of_worker("redis://127.0.0.1:6379", "gw0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(RuntimeError, match="leaves none for xdist worker gw2"):
        redis_url_of_worker("redis://127.0.0.1:6379/1", "gw2")


@pytest.mark.skipif(not WORKER, reason="runs in a pytest-xdist worker (make test)")
def test_django_reads_this_workers_redis_url():
    # Set before Django read its settings: the broker, the budgets' store and the worker
    # processes a test starts (they inherit os.environ) all use this worker's database.
    assert os.environ.get("REDIS_URL", "") == settings.REDIS_URL
    if settings.REDIS_URL:
        assert settings.Q_CLUSTER["redis"] == settings.REDIS_URL


@pytest.mark.skipif(not WORKER, reason="runs in a pytest-xdist worker (make test)")
@pytest.mark.django_db
def test_this_workers_database_and_budget_store_are_its_own():
    assert WORKER in connection.settings_dict["NAME"]
    assert f"popen-{WORKER}" in str(settings.BUDGET_STORE_PATH)

import pytest


@pytest.fixture(autouse=True)
def handed_on(monkeypatch):
    """Tasks are driven in the test (tests/run_steps.py): nothing is queued for a worker."""
    from integrations.engine import skeleton

    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)

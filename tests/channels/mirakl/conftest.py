import pytest


@pytest.fixture(autouse=True)
def driven_here(handed_on):
    """Tasks are driven in the test (tests/run_steps.py): nothing is queued for a worker."""

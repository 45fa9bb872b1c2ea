"""The sandbox's own tests send their requests through one session per module."""

import pytest
import requests


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session

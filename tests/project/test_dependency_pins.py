"""The packages that read what channels send are pinned, at the versions installed."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# urllib3 bounds decompression of a streamed answer from 2.6.0 (CVE-2025-66471) and of a
# redirect's body from 2.6.3 (CVE-2026-21441): an answer's gzip cannot inflate unbounded.
AT_LEAST = {"urllib3": (2, 6, 3)}
SAFETY = ["urllib3", "idna", "certifi", "charset-normalizer", "sqlparse", "requests", "pillow"]


def pins() -> dict[str, str]:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    found = {}
    for requirement in dependencies:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)", requirement)
        assert match, f"not pinned exactly: {requirement}"
        found[match.group(1).lower()] = match.group(2)
    return found


@pytest.mark.parametrize("package", SAFETY)
def test_a_package_that_reads_channel_answers_is_pinned_at_the_installed_version(package):
    assert pins().get(package) == version(package)


def test_urllib3_has_the_bounded_decompression_fix():
    installed = tuple(int(part) for part in version("urllib3").split(".")[:3])
    assert installed >= AT_LEAST["urllib3"]

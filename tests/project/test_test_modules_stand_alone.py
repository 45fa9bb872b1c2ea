"""Test modules stand alone: what several share lives in conftest.py or a fixture module
(tests/*.py not named test_*), never in another test module; no redefinition is silenced (ruff's
F811 stays on for the tests, with no `noqa` for it)."""

import ast
import re
import tomllib
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TEST_MODULES = sorted(TESTS.rglob("test_*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, at any depth of the file (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}".lstrip(".") for alias in node.names)
    return found


def names_a_test_module(module: str) -> bool:
    return any(part.startswith("test_") for part in module.split("."))


def test_the_tests_are_found():
    assert len(TEST_MODULES) > 50
    assert imported_modules(Path(__file__)) >= {"ast", "re", "pathlib.Path"}


def test_no_test_module_imports_another():
    offenders = {
        str(path.relative_to(TESTS)): sorted(
            m for m in imported_modules(path) if names_a_test_module(m)
        )
        for path in TEST_MODULES
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_no_fixture_module_imports_a_test_module():
    helpers = [p for p in TESTS.rglob("*.py") if not p.name.startswith("test_")]
    assert any(p.name == "conftest.py" for p in helpers)
    offenders = {
        str(path.relative_to(TESTS)): sorted(
            m for m in imported_modules(path) if names_a_test_module(m)
        )
        for path in helpers
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_check_sees_every_way_of_importing_a_test_module(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import tests.test_pages\n"
        "from tests import test_browser as b\n"
        "from .test_drift import drain\n"
        "def f():\n"
        "    from tests.test_sandbox import ALLEGRO\n"
    )
    found = {m for m in imported_modules(sample) if names_a_test_module(m)}
    assert found >= {"tests.test_pages", "tests.test_browser", ".test_drift", "tests.test_sandbox"}


def test_no_redefinition_is_silenced():
    silenced = re.compile(r"noqa:[^\n]*\bF811\b|ruff:\s*noqa(?!:)|ruff:\s*noqa:[^\n]*\bF811\b")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if silenced.search(line)
    ]
    assert offenders == []


def test_ruff_checks_redefinitions_in_the_tests():
    lint = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert {"F", "F811"} & set(lint["select"])
    ignored = set(lint.get("ignore", [])) | {
        rule
        for pattern, rules in lint.get("per-file-ignores", {}).items()
        if pattern.startswith("tests")
        for rule in rules
    }
    assert not {"F", "F8", "F81", "F811", "F401"} & ignored

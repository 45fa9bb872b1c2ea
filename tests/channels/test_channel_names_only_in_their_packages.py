"""The core reads channels only through their descriptors (integrations/saleschannels/): no
branch on a channel's name outside the channel's own package — migrations, the sandbox (someone
else's system), the tests and the benches aside."""

import ast
import io
import re
import tokenize
from pathlib import Path

from integrations.channels import DESCRIPTORS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("integrations", "offers", "xsale", "tools")
CHANNEL_PACKAGES = ROOT / "integrations" / "saleschannels"
NAMES = {d.value for d in DESCRIPTORS}
MEMBER = re.compile(r"\bChannel\.(" + "|".join(n.upper() for n in NAMES) + r")\b")


def channel_name_branches(source: str) -> list[tuple[int, str]]:
    """(line, text) of each `Channel.ALLEGRO`-like member and each string literal that is a
    channel's name ("allegro"), comments and docstrings aside (only whole literals count)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, str) and value.strip().lower() in NAMES:
                found.append((token.start[0], token.string))
        elif token.type == tokenize.NAME and token.string == "Channel":
            line = token.line[token.start[1] :]
            match = MEMBER.match(line)
            if match:
                found.append((token.start[0], match.group(0)))
    return found


def core_modules():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts or path.is_relative_to(CHANNEL_PACKAGES):
                continue
            yield path


def test_the_grep_finds_the_branches_it_is_for():
    source = (
        "if integration.channel == Channel.AMAZON:\n    pass\n"
        'URLS = {"allegro": 1}  # "zalando" in a comment is no branch\n'
        'def f():\n    """Talks to woocommerce."""\n'
    )
    assert channel_name_branches(source) == [(1, "Channel.AMAZON"), (3, '"allegro"')]


def test_no_channel_name_branches_outside_the_channel_packages():
    branches = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in core_modules()
        for line, text in channel_name_branches(path.read_text())
    ]
    assert branches == [], "\n".join(branches)


def test_every_channel_has_its_package_and_one_registry_line():
    registry = (CHANNEL_PACKAGES / "registry.py").read_text()
    for name in NAMES:
        assert (CHANNEL_PACKAGES / name / "descriptor.py").exists()
        assert f"from integrations.saleschannels.{name}.descriptor import DESCRIPTOR" in registry


TEMPLATE_BRANCH = re.compile(
    r"{%\s*(?:if|elif)\b[^%]*\b(?:" + "|".join(NAMES) + r")\b[^%]*%}", re.IGNORECASE
)


def template_branches(source: str) -> list[tuple[int, str]]:
    """(line, tag) of each template tag naming a channel (`{% if integration.channel ==
    "zalando" %}`); text the seller reads may name one, a tag that decides may not."""
    return [
        (source.count("\n", 0, match.start()) + 1, match.group(0))
        for match in TEMPLATE_BRANCH.finditer(source)
    ]


def test_the_template_grep_finds_the_branches_it_is_for():
    source = (
        '<p>\n{% if original.channel != "zalando" %}x{% endif %}\nAllegro</p>'
        '{% translate "Allegro and Zalando always get them" %}'
    )
    assert template_branches(source) == [(2, '{% if original.channel != "zalando" %}')]


def test_no_template_decides_by_a_channels_name():
    branches = [
        f"{path.relative_to(ROOT)}:{line}: {tag}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for line, tag in template_branches(path.read_text(encoding="utf-8"))
    ]
    assert branches == [], "\n".join(branches)

"""Reasons a seller reads later, worded in the reader's language when shown.

A reason xSale stores (ResyncRun.error, ResyncFailure.message, SiteJournal.message) is written
by a worker and read later — on a Polish page, in the Polish e-mail, on an English page — so
the worker's language cannot decide how it reads. A `Reason` is a gettext template (its msgid,
in English) whose text is stored with its values filled in, in English: what outside scripts,
logs and the failure groups read. `worded(text)` puts a stored text in the reader's language:
it recognises the template it was made from (every Reason registers itself; the app imports
the modules that hold them when it is ready, apps.py), translates it and fills in the same
values, each worded in turn (a reason may quote another). A text that is no reason of ours —
the channel's own message, Allegro's userMessage — stays exactly as the channel wrote it.
A reason stored in another language of the app (Polish, by a worker that translated it) is
recognised by its translation too.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from django.conf import settings
from django.utils import translation

_PARAM = re.compile(r"%\((\w+)\)s")
_registry: dict[str, Reason] = {}
_lock = threading.Lock()
MAX_DEPTH = 4  # a reason quoting a reason quoting …: no deeper than this


class Reason:
    """A reason a seller reads later: `REASON(**values)` is its stored (English) text."""

    def __init__(self, template: str):
        self.template = template
        with _lock:
            _registry[template] = self
            _patterns.cache_clear()
            _worded.cache_clear()

    def __call__(self, **values) -> str:
        return self.template % values if values else self.template.replace("%%", "%")

    def __str__(self) -> str:
        return self()

    def __repr__(self) -> str:
        return f"Reason({self.template!r})"


def _regex(template: str) -> tuple[re.Pattern, str, int]:
    """The template as a pattern (a value: any text, even empty), its longest literal part (a
    quick test before the pattern) and how much literal text it has (how specific it is)."""
    parts = _PARAM.split(template)
    regex, seen, literals = [], set(), []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            literal = part.replace("%%", "%")
            literals.append(literal)
            regex.append(re.escape(literal))
        elif part in seen:
            regex.append(f"(?P={part})")
        else:
            seen.add(part)
            regex.append(f"(?P<{part}>.*?)")
    return re.compile("".join(regex), re.DOTALL), max(literals, key=len), len("".join(literals))


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[Reason, re.Pattern, str]]:
    """Every registered reason as the patterns of its text in each language, the most specific
    (the most literal text) first, so that a loose template never takes a stricter one's text."""
    found = []
    for reason in list(_registry.values()):
        texts = {reason.template}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                texts.add(translation.gettext(reason.template))
        for text in texts:
            pattern, literal, specific = _regex(text)
            found.append((specific, reason, pattern, literal))
    found.sort(key=lambda entry: entry[0], reverse=True)
    return [(reason, pattern, literal) for _specific, reason, pattern, literal in found]


def worded(text) -> str:
    """A stored reason in the language of the reader (the active language)."""
    if not text:
        return text or ""
    return _worded(str(text), translation.get_language() or settings.LANGUAGE_CODE, 0)


@lru_cache(maxsize=4096)
def _worded(text: str, language: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        return text
    for reason, pattern, literal in _patterns():
        if literal not in text:
            continue
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = {
            name: _worded(value, language, depth + 1) for name, value in match.groupdict().items()
        }
        with translation.override(language):
            template = translation.gettext(reason.template)
        try:
            return template % values if values else template.replace("%%", "%")
        except (KeyError, ValueError, TypeError):  # a translation that lost a value
            return text
    return text

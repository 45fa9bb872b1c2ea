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


class _Shape:
    """A template's text cut at its values: the literal parts around them and the values'
    names. Matching it is deterministic, one pass of str.find (no regular expression: a
    stored text may hold a channel's own words, and a backtracking pattern of several `.*?`
    took seconds on 2,000 hostile characters)."""

    def __init__(self, text: str):
        parts = _PARAM.split(text)
        self.literals = [part.replace("%%", "%") for part in parts[0::2]]
        self.names = parts[1::2]
        self.longest = max(self.literals, key=len)
        self.specific = len("".join(self.literals))

    def match(self, text: str) -> dict[str, str] | None:
        """The values that make `text` from this shape, or None. The first and last literals
        anchor the text's ends; each literal between two values is its first occurrence after
        the value before (a value that quotes that literal is cut short, never a hang)."""
        first, last = self.literals[0], self.literals[-1]
        if not self.names:
            return {} if text == first else None
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return None
        values: dict[str, str] = {}
        position = len(first)
        for index, name in enumerate(self.names):
            if index + 1 < len(self.names):
                literal = self.literals[index + 1]
                found = text.find(literal, position, end) if literal else position
                if found < 0:
                    return None
                value, position = text[position:found], found + len(literal)
            else:
                value = text[position:end]
            if values.setdefault(name, value) != value:
                return None
        return values


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[Reason, _Shape]]:
    """Every registered reason as the shapes of its text in each language, the most specific
    (the most literal text) first, so that a loose template never takes a stricter one's text."""
    found = []
    for reason in list(_registry.values()):
        texts = {reason.template}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                texts.add(translation.gettext(reason.template))
        found += [(reason, _Shape(text)) for text in texts]
    found.sort(key=lambda entry: entry[1].specific, reverse=True)
    return found


def worded(text) -> str:
    """A stored reason in the language of the reader (the active language)."""
    if not text:
        return text or ""
    return _worded(str(text), translation.get_language() or settings.LANGUAGE_CODE, 0)


@lru_cache(maxsize=4096)
def _worded(text: str, language: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        return text
    for reason, shape in _patterns():
        if shape.longest not in text:
            continue
        match = shape.match(text)
        if match is None:
            continue
        values = {name: _worded(value, language, depth + 1) for name, value in match.items()}
        with translation.override(language):
            template = translation.gettext(reason.template)
        try:
            return template % values if values else template.replace("%%", "%")
        except (KeyError, ValueError, TypeError):  # a translation that lost a value
            return text
    return text

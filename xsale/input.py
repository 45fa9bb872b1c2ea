"""What people type, read strictly: numbers in ASCII digits, names without invisible characters.

`str.isdigit` is not "a number": "²" and "٣" are digits to it, and `int("²")` raises. A name
with a bidi override (U+202E) shows one text and holds another ("gpj.exe" read as "exe.jpg"),
and zero-width characters make two names that look the same different.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Our pages write numbers as ASCII digits; 18 of them fit any database id.
ASCII_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)


def ascii_number(value) -> int | None:
    """`value` as a number when it is 1 to 18 ASCII digits, else None."""
    if isinstance(value, str) and ASCII_NUMBER.fullmatch(value):
        return int(value)
    return None


# Unicode categories no name needs: format characters (bidi overrides and isolates, zero-width
# spaces and joiners, soft hyphens, byte order marks), control characters, line and paragraph
# separators, private use, and lone surrogates.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zl", "Zp", "Co", "Cs"})


def invisible_characters(value: str) -> list[tuple[int, str]]:
    """(position, character) of each character of `value` a name may not hold."""
    return [
        (position, char)
        for position, char in enumerate(value or "")
        if unicodedata.category(char) in INVISIBLE_CATEGORIES
    ]


def validate_visible_name(value: str) -> None:
    """A name (an integration's, an offer's) holds only characters that show as themselves.

    The one validator every place a name is entered uses (the models' fields, so forms and the
    admin; the import). Raises ValidationError naming the first such character."""
    found = invisible_characters(value)
    if not found:
        return
    position, char = found[0]
    raise ValidationError(
        _(
            "The name contains an invisible or text-direction character (%(code)s %(char_name)s) "
            "at position %(position)s: it would show the name differently from what it holds. "
            "Remove it and type the name again."
        ),
        code="invisible_character",
        params={
            "code": f"U+{ord(char):04X}",
            "char_name": unicodedata.name(char, "control character"),
            "position": position + 1,
        },
    )

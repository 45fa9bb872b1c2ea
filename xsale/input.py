"""What people type, read strictly: numbers in ASCII digits, names without invisible characters.

`str.isdigit` is not "a number": "²" and "٣" are digits to it, and `int("²")` raises. A name
with a bidi override (U+202E) shows one text and holds another ("gpj.exe" read as "exe.jpg"),
and zero-width characters make two names that look the same different.
"""

from __future__ import annotations

import re

# Our pages write numbers as ASCII digits; 18 of them fit any database id.
ASCII_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)


def ascii_number(value) -> int | None:
    """`value` as a number when it is 1 to 18 ASCII digits, else None."""
    if isinstance(value, str) and ASCII_NUMBER.fullmatch(value):
        return int(value)
    return None

"""Comparing an offer with its listing, field by field, as the adapter would send it (a drift
check's second phase, drift_check.py)."""

from decimal import Decimal, InvalidOperation

VALUE_MAX_CHARS = 500  # a description in the report: enough to see the difference


def _text(value) -> str:
    return " ".join(str(value or "").split())


def _amount(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value


def same(field: str, ours, theirs) -> bool:
    if field in ("name", "description"):
        return _text(ours) == _text(theirs)
    if field == "price":
        return _amount(ours) == _amount(theirs)
    if field == "parameters":
        # Only our parameters: a marketplace listing carries many of its own (category ones).
        theirs = theirs or {}
        return all(
            sorted(map(_text, values)) == sorted(map(_text, theirs.get(name) or []))
            for name, values in (ours or {}).items()
        )
    return ours == theirs


def shown(value):
    """A value as the report keeps it: long text cut, everything JSON."""
    if isinstance(value, str) and len(value) > VALUE_MAX_CHARS:
        return value[: VALUE_MAX_CHARS - 1] + "…"
    return value


def compare(expected: dict, listing: dict, fields) -> dict:
    """{field: {"ours", "theirs"}} for the compared fields that differ. A field we do not send
    (an empty description) or the channel does not tell is not compared."""
    differences = {}
    for name in fields:
        if name not in expected or name not in listing:
            continue
        if not same(name, expected[name], listing[name]):
            ours, theirs = expected[name], listing[name]
            if name == "parameters":
                theirs = {k: (theirs or {}).get(k) for k in ours}
            differences[name] = {"ours": shown(ours), "theirs": shown(theirs)}
    return differences

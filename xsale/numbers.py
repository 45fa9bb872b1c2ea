"""Numbers and amounts as a seller reads them, in the page's language: one way for every page,
e-mail and report. Polish: a comma before the decimals and a non-breaking space between
thousands ("2 500", "12 345,50" — Django's Polish format, as the engine's messages write
limits: "9 000 requests/min"); English: "1,234.50". Values that are not numbers (a channel's answer
that is not a price) are shown as they came."""

from decimal import Decimal, InvalidOperation

from django.utils import formats

# A channel's text that is not a number stays text; bounded so that no exponent is ever expanded.
_MAX_DIGITS = 30


def _as_decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = str(value).strip()
        if not text or len(text) > _MAX_DIGITS:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    if not number.is_finite() or abs(number.adjusted()) > _MAX_DIGITS:
        return None
    return number


def number_display(value, decimals: int | None = None) -> str:
    """`value` grouped by thousands with the language's separators; `decimals` places when
    given (else as many as it has). Not a number: as it came ("—" for nothing)."""
    number = _as_decimal(value)
    if number is None:
        return "—" if value in (None, "") else str(value)
    return formats.number_format(number, decimals, use_l10n=True, force_grouping=True)


def amount_display(value, currency: str = "") -> str:
    """A price with two decimals and its currency when known: "1 234,50 PLN"."""
    text = number_display(value, 2)
    return f"{text} {currency}" if currency and text != "—" else text

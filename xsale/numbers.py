"""Numbers and amounts as a seller reads them, in the page's language: one way for every page,
e-mail and report. Polish: a comma before the decimals and a non-breaking space between
thousands ("12 345,50", a four-digit "2500" ungrouped, as Polish typesetting and CLDR's minimum
grouping digits have it); English: "1,234.50". Values that are not numbers (a channel's answer
that is not a price) are shown as they came."""

from decimal import Decimal, InvalidOperation

from django.utils import formats, translation

# A channel's text that is not a number stays text; bounded so that no exponent is ever expanded.
_MAX_DIGITS = 30
# Languages whose numbers are grouped only from five digits on (CLDR minimumGroupingDigits 2).
_GROUPED_FROM_10_000 = {"pl"}


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
    language = (translation.get_language() or "").split("-")[0]
    grouping = abs(number) >= 10_000 or language not in _GROUPED_FROM_10_000
    return formats.number_format(number, decimals, use_l10n=True, force_grouping=grouping)


def amount_display(value, currency: str = "") -> str:
    """A price with two decimals and its currency when known: "1 234,50 PLN"."""
    text = number_display(value, 2)
    return f"{text}\N{NO-BREAK SPACE}{currency}" if currency and text != "—" else text

"""CSV downloads a seller opens in a spreadsheet: one writer for every export, safe in Excel.

What goes into these files comes from outside (a channel's message, a listing's name, an
offer's name from a feed); a spreadsheet must show it as text, never run it as a formula. The
sellers open the files in Excel with a Polish locale, so the format is chosen for it:

- `;` as the delimiter: Polish Excel's list separator (`,` is its decimal mark), so a file
  opened by double-click falls into columns.
- Every field quoted (csv.QUOTE_ALL): a `;`, `,`, tab, CR or LF inside a field stays inside its
  cell — a channel message `x;=HYPERLINK(…)` is one cell, not a text cell and a formula cell.
- A UTF-8 byte order mark first: without it Excel reads the file in the ANSI code page
  (cp1250) and garbles Polish letters.
- A text cell starting with `=`, `+`, `-`, `@`, a tab, CR or LF (or the full-width `＝ ＋ － ＠`,
  which Excel with an East Asian input method takes for the ASCII ones) gets a leading `'`:
  Excel then shows it as text. Quoting does not do that: Excel evaluates a quoted "=1+1".
- The same inside a cell, after every `;`, `,`, tab, CR and LF: a reader that splits on a
  different separator or ignores the quotes (an English-locale Excel opening the file, a naive
  import) would start a new cell there, so `x;=HYPERLINK(…)` is written `x;'=HYPERLINK(…)`.
  The text stays readable: only a `'` is added, and only where a formula could start.

Numbers we computed ourselves (counts, HTTP statuses) are written as they are.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

BOM = "\ufeff"
DELIMITER = ";"

_FORMULA = "=+\\-@＝＋－＠"
_CELL_START = re.compile(rf"^(?=[{_FORMULA}\t\r\n])")
_AFTER_SEPARATOR = re.compile(rf"(?<=[;,\t\r\n])(?=[{_FORMULA}])")


def csv_safe(value):
    """A value as a cell no spreadsheet reads as a formula (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = _AFTER_SEPARATOR.sub("'", str(value))
    return _CELL_START.sub("'", text)


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """The rows (header first) as the lines of a streamed CSV download: the byte order mark
    before the first line, `;` between quoted fields, every cell made safe."""
    writer = csv.writer(_Echo(), delimiter=DELIMITER, quoting=csv.QUOTE_ALL)
    first = True
    for row in rows:
        line = writer.writerow([csv_safe(value) for value in row])
        yield BOM + line if first else line
        first = False

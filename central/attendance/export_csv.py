"""CSV export of a recap: the main table only, for Excel in an Indonesian locale.

Two choices follow from how Excel opens a CSV file by double-click:

* **UTF-8 with a byte-order mark.** Without the BOM Excel reads the file in the Windows code
  page and breaks any name outside ASCII; with it Excel (2016 and later, LibreOffice too) knows
  the text is UTF-8.
* **``;`` between fields, ``,`` in decimals.** Excel splits a CSV on the *list separator* of the
  Windows regional settings. In the Indonesian locale (id-ID) the decimal separator is the
  comma, so the list separator is the semicolon: a comma-separated file would open as one
  column, and ``14.50`` would not be read as a number. Decimals are therefore written ``14,50``.

No ``sep=;`` hint line is written: Excel ignores the BOM when that line is present. Numbers
such as a NIP are written grouped with spaces (``19860926 201505 1 001``), which Excel keeps as
text instead of rounding 18 digits to ``1.98609E+17``. Text that starts like a formula is
prefixed with ``'`` (CSV injection).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from central.attendance.export import Cell, Document, id_number, safe_text

DELIMITER = ";"


def csv_cell(value: Cell) -> str:
    """One field: decimals with a comma, None empty, text made formula-safe."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return id_number(value)
    if isinstance(value, int):
        return str(value)
    return safe_text(value)


def write_csv(doc: Document) -> bytes:
    """The document's main table: one header line, then one line per row (no totals row)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(doc.main.headers)
    for row in doc.main.rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")

"""XLSX export of a recap (openpyxl): one sheet per table, ready to print and sign.

Each sheet has the title and heading lines, the header row in Bahasa Indonesia (bold, shaded,
wrapped, bordered), the rows, a bold "Jumlah" row, and under the main sheet's table the footer
lines and the two signature blocks. The header row and the No/NIP/Nama columns are frozen, the
header row repeats on every printed page, and pages are F4 (folio) landscape fitted to the
width.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from central.attendance.export import Cell, Document, Table, safe_text

HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
DECIMAL_FORMAT = "0.00"
PAPER_FOLIO = 14  # the SpreadsheetML code of Folio, 8.5 x 13 in: Indonesian F4
#: Columns whose text may be long: wrapped, left-aligned.
TEXT_COLUMNS = ("Nama", "Keterangan", "Catatan", "Unit Kerja")


def _value(value: Cell) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    return value


def _table(ws: Any, doc: Document, table: Table, *, with_footer: bool) -> None:
    ncols = len(table.headers)
    ws.cell(row=1, column=1, value=doc.title).font = Font(bold=True, size=13)
    for i, line in enumerate(doc.heading, start=2):
        ws.cell(row=i, column=1, value=line).font = Font(bold=True)
    top = len(doc.heading) + 3
    ws.cell(row=top - 1, column=1, value=table.title).font = Font(italic=True)
    for col, (header, width) in enumerate(zip(table.headers, table.widths, strict=True), 1):
        cell = ws.cell(row=top, column=col, value=header)
        cell.font, cell.fill, cell.alignment, cell.border = (
            Font(bold=True),
            HEADER_FILL,
            CENTER,
            BOX,
        )
        ws.column_dimensions[get_column_letter(col)].width = width * 0.8 + 1  # mm to characters
    ws.row_dimensions[top].height = 45
    text_cols = {i for i, h in enumerate(table.headers) if h in TEXT_COLUMNS}
    r = top
    for r, row in enumerate(table.rows, top + 1):
        for c, value in enumerate(row):
            cell = ws.cell(row=r, column=c + 1, value=_value(value))
            cell.border = BOX
            if isinstance(value, Decimal):
                cell.number_format = DECIMAL_FORMAT
            if c in text_cols:
                cell.alignment = WRAP
    last = r
    if table.totals is not None:
        last += 1
        for c, value in enumerate(table.totals):
            cell = ws.cell(row=last, column=c + 1, value=_value(value))
            cell.font, cell.border = Font(bold=True), BOX
            if isinstance(value, Decimal):
                cell.number_format = DECIMAL_FORMAT
    # Freeze the header row and the identity columns (No, NIP, Nama) where the table has them.
    ws.freeze_panes = ws.cell(row=top + 1, column=4 if ncols > 8 and "Nama" in table.headers else 1)
    ws.auto_filter.ref = f"A{top}:{get_column_letter(ncols)}{max(top, r)}"
    ws.print_title_rows = f"{top}:{top}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = PAPER_FOLIO
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if with_footer:
        _footer(ws, doc, last + 2, ncols)


def _footer(ws: Any, doc: Document, row: int, ncols: int) -> None:
    for line in doc.footer:
        ws.cell(row=row, column=1, value=safe_text(line)).font = Font(size=9)
        row += 1
    row += 1
    right = max(2, ncols - 6)
    ws.cell(row=row, column=right, value=doc.place_date)
    row += 1
    left_sig, right_sig = doc.signatures
    for column, sig in ((2, left_sig), (right, right_sig)):
        r = row
        for line in sig.lines:
            ws.cell(row=r, column=column, value=safe_text(line))
            r += 1
        r += 3  # room to sign
        ws.cell(
            row=r, column=column, value=safe_text(sig.name or "(" + "." * 30 + ")")
        ).font = Font(bold=True, underline="single")
        if sig.lines[0].startswith("Mengetahui"):
            ws.cell(row=r + 1, column=column, value=f"NIP {sig.nip or '.' * 24}")


def write_xlsx(doc: Document) -> bytes:
    """The workbook: the main table (with footer and signatures) first, the details after."""
    wb = Workbook()
    ws = wb.active
    ws.title = doc.main.name
    _table(ws, doc, doc.main, with_footer=True)
    for table in doc.details:
        _table(wb.create_sheet(table.name[:31]), doc, table, with_footer=False)
    wb.properties.title = f"{doc.title} {doc.heading[0]}"
    wb.properties.creator = "Hadir"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

"""PDF export of a recap with fpdf2 (pure Python, no system binary): F4 landscape, to be signed.

Page one carries the title, the period and unit, the main table (its header row repeated on
every page), the footer lines (rule-set and calendar versions, generation time in WITA,
finalisation and checksum, the PP 94/2021 note) and the signature blocks "Mengetahui, Kepala
[unit] / NIP" and "Pembuat / Operator". The detail tables follow on new pages. Every page ends
with its number and the start of the checksum, so a loose page can be matched to its document.

F4 (Folio, 215 x 330 mm) is the paper Indonesian offices print such lists on; its width fits the
26 columns of §7 at a readable size (A4 would need a 5-point font). The built-in Helvetica is
used, so no font file is needed anywhere; it covers Latin-1, which fits Indonesian names and
titles. Any other character is transliterated (``é`` stays, ``ş`` becomes ``s``, anything left
becomes ``?``) rather than failing the export.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from fpdf import FPDF, FontFace

from central.attendance.export import Cell, Document, Table, id_number, wita

FONT = "Helvetica"
BODY_PT = 6.5
F4_MM = (215.0, 330.0)
HEADER_FILL = (217, 225, 242)
#: Columns set left-aligned; every other column is centred.
TEXT_COLUMNS = ("Nama", "Keterangan", "Catatan", "Unit Kerja", "NIP / NI PPPK / No. Reg")
SIGNATURE_HEIGHT_MM = 45.0
_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2026": "...", "\u2018": "'", "\u2019": "'"}


def latin(text: str) -> str:
    """``text`` in Latin-1, which the built-in PDF fonts can draw."""
    out: list[str] = []
    for original in unicodedata.normalize("NFC", text):
        ch = _REPLACEMENTS.get(original, original)
        try:
            ch.encode("latin-1")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            ch = base or "?"
        out.append(ch)
    return "".join(out)


def pdf_cell(value: Cell) -> str:
    """A cell as printed: decimals with a comma, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return id_number(value)
    return latin(str(value))


class _Pdf(FPDF):
    def __init__(self, doc: Document) -> None:
        super().__init__(orientation="L", unit="mm", format=F4_MM)
        self.doc = doc
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(auto=True, margin=12)
        self.set_title(latin(f"{doc.title} {doc.heading[0]}"))
        self.set_author("Hadir")
        self.set_creator("Hadir (fpdf2)")

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, size=6)
        checksum = next((ln for ln in self.doc.footer if "checksum" in ln), "")
        short = f" - checksum {checksum.rsplit(' ', 1)[-1][:16]}" if checksum else ""
        text = f"{self.doc.code} {self.doc.heading[0]} - dibuat {wita(self.doc.generated_at)}"
        self.cell(0, 4, latin(f"{text}{short} - Halaman {self.page_no()}/{{nb}}"), align="C")


def _heading(pdf: _Pdf, doc: Document) -> None:
    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 6, latin(doc.title), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(FONT, "B", 8)
    for line in doc.heading:
        pdf.cell(0, 4.2, latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _table(pdf: _Pdf, table: Table) -> None:
    pdf.set_font(FONT, "I", 7)
    pdf.cell(0, 4, latin(table.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=BODY_PT)
    aligns = tuple("LEFT" if h in TEXT_COLUMNS else "CENTER" for h in table.headers)
    style = FontFace(emphasis="BOLD", fill_color=HEADER_FILL, size_pt=BODY_PT)
    rows = [*table.rows, *([table.totals] if table.totals is not None else [])]
    with pdf.table(
        col_widths=table.widths,
        width=pdf.epw,
        text_align=aligns,  # one per column
        headings_style=style,
        line_height=BODY_PT * 0.45,
        padding=0.6,
        repeat_headings=1,
    ) as t:
        head = t.row()
        for header in table.headers:
            head.cell(latin(header), align="CENTER")
        bold = FontFace(emphasis="BOLD")
        for i, values in enumerate(rows):
            row = t.row()
            is_total = table.totals is not None and i == len(rows) - 1
            for value in values:
                row.cell(pdf_cell(value), style=bold if is_total else None)


def _signatures(pdf: _Pdf, doc: Document) -> None:
    if pdf.get_y() + SIGNATURE_HEIGHT_MM > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(3)
    width = 85.0
    left_x, right_x = pdf.l_margin + 10, pdf.w - pdf.r_margin - width
    top = pdf.get_y()
    pdf.set_font(FONT, size=8)
    pdf.set_xy(right_x, top)
    pdf.cell(width, 4, latin(doc.place_date), align="C")
    top += 4.5
    for x, sig in zip((left_x, right_x), doc.signatures, strict=True):
        pdf.set_xy(x, top)
        for line in sig.lines:
            pdf.set_x(x)
            pdf.cell(width, 4, latin(line), new_x="LEFT", new_y="NEXT", align="C")
        pdf.set_xy(x, top + 24)
        pdf.set_font(FONT, "BU", 8)
        pdf.cell(width, 4, latin(sig.name or "(" + "." * 40 + ")"), align="C")
        pdf.set_font(FONT, size=8)
        if sig.lines[0].startswith("Mengetahui"):
            pdf.set_xy(x, top + 28.5)
            pdf.cell(width, 4, latin(f"NIP {sig.nip or '.' * 30}"), align="C")
    pdf.set_xy(pdf.l_margin, top + 34)


def write_pdf(doc: Document) -> bytes:
    """The PDF file's bytes."""
    pdf = _Pdf(doc)
    pdf.add_page()
    _heading(pdf, doc)
    _table(pdf, doc.main)
    pdf.ln(2)
    pdf.set_font(FONT, size=6.5)
    for line in doc.footer:
        pdf.multi_cell(0, 3.2, latin(line), new_x="LMARGIN", new_y="NEXT")
    _signatures(pdf, doc)
    for table in doc.details:
        pdf.add_page()
        _heading(pdf, doc)
        _table(pdf, table)
    return bytes(pdf.output())

"""CSV, XLSX and PDF exports of the recap, read back: headers, values, footer, signatures."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from central.attendance import export, recap
from central.attendance.export_csv import write_csv
from central.attendance.export_pdf import latin, write_pdf
from central.attendance.export_xlsx import write_xlsx
from tests.unit.recap import MONTH, NOW, World, open_world

GENERATED = datetime(2026, 12, 2, 1, 5, tzinfo=UTC)  # 09:05 WITA
EXACT_HEADERS = [
    "No",
    "NIP / NI PPPK / No. Reg",
    "Nama",
    "Status",
    "Unit Kerja",
    "HK",
    "H",
    "DL/Tugas",
    "TL1",
    "TL2",
    "TL3",
    "TL4",
    "Menit TL",
    "PSW1",
    "PSW2",
    "PSW3",
    "PSW4",
    "Menit PSW",
    "I",
    "S",
    "C",
    "TK",
    "TK s.d. bulan ini",
    "% Kehadiran",
    "Potongan (%)",
    "Keterangan",
]
ANDI_NUMBERS = [20, 13, 2, 2, 1, 1, 1, 140, 2, 1, 1, 1, 123, 1, 1, 2, 1, 2]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


@pytest.fixture
def lb1(world: World) -> export.Document:
    with world.engine.begin() as conn:
        done = recap.finalize(conn, MONTH, world.bkppd, "Ani Operator", now=NOW)
    return export.lb1_document(
        done,
        generated_at=GENERATED,
        head_name="Drs. Yohanes Kepala, M.Si.",
        head_nip="19700101 199003 1 001",
        operator="Ani Operator",
    )


def test_csv_is_utf8_bom_semicolons_and_comma_decimals(lb1: export.Document) -> None:
    data = write_csv(lb1)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == EXACT_HEADERS
    assert len(rows) == 5  # header and four people; no totals line in a data file
    andi = rows[1]
    assert andi[:5] == ["1", "19860926 201505 1 001", "Andi Saputra, S.Kom.", "PNS", "BKPPD"]
    assert [int(v) for v in andi[5:23]] == ANDI_NUMBERS
    assert andi[23:25] == ["65,00", "14,50"]
    assert andi[25].startswith("Peringatan: TK 2026: 2 hari;")
    assert rows[3][2:4] == ["Citra Lestari", "Non-ASN"] and rows[3][24] == "98,00"


def test_xlsx_headers_values_totals_footer_and_detail_sheet(lb1: export.Document) -> None:
    wb = load_workbook(io.BytesIO(write_xlsx(lb1)))
    assert wb.sheetnames == ["LB.1", "Rincian Cuti"]
    ws = wb["LB.1"]
    assert ws["A1"].value == "REKAPITULASI ABSENSI BULANAN (LB.1)"
    assert ws["A2"].value == "Periode: November 2026"
    assert ws["A3"].value == "Unit Kerja: BKPPD - Badan Kepegawaian dan Pengembangan SDM"
    header_row = 5
    assert [c.value for c in ws[header_row]] == EXACT_HEADERS
    assert all(c.font.bold for c in ws[header_row])
    assert ws.freeze_panes == "D6"
    assert ws.print_title_rows == "$5:$5"
    assert ws.column_dimensions["B"].width > ws.column_dimensions["F"].width
    andi = [c.value for c in ws[6]]
    assert andi[:5] == [1, "19860926 201505 1 001", "Andi Saputra, S.Kom.", "PNS", "BKPPD"]
    assert andi[5:23] == ANDI_NUMBERS
    assert andi[23:25] == [65, 14.5]
    assert ws.cell(row=6, column=24).number_format == "0.00"
    totals = [c.value for c in ws[10]]
    assert totals[2] == "Jumlah" and ws.cell(row=10, column=3).font.bold
    assert totals[5:8] == [70, 41, 2]  # HK, H, DL/Tugas of the four
    assert totals[21] == 23  # TK
    assert totals[23] == pytest.approx(58.57)  # 41 / 70
    assert totals[25] == "4 pegawai"
    text = "\n".join(str(c.value) for row in ws.iter_rows(min_row=11) for c in row if c.value)
    assert "Versi aturan: rs-2026.10, rs-2026.11; versi kalender libur: cal-2026.3" in text
    assert "Dibuat: 02-12-2026 09:05 WITA" in text
    assert "Status: FINAL, oleh Ani Operator pada 02-12-2026 09:00 WITA" in text
    assert re.search(r"checksum sha256: [0-9a-f]{64}", text)
    assert "Batas potongan bulanan: 100,00%" in text
    assert "bukan sanksi" in text
    for expected in (
        "Kupang, 2 Desember 2026",
        "Mengetahui,",
        "Kepala Badan Kepegawaian dan Pengembangan SDM",
        "Drs. Yohanes Kepala, M.Si.",
        "NIP 19700101 199003 1 001",
        "Pembuat / Operator",
        "Ani Operator",
    ):
        assert expected in text
    detail = wb["Rincian Cuti"]
    heads = [c.value for c in detail[5]]
    assert heads[3:11] == ["CT", "CB", "CS", "CM", "CAP", "CLTN", "CBER", "C"]
    andi_detail = dict(zip(heads, [c.value for c in detail[6]], strict=True))
    assert (andi_detail["CT"], andi_detail["CS"], andi_detail["CB"], andi_detail["C"]) == (
        1,
        1,
        0,
        2,
    )
    assert andi_detail["% Kehadiran (H + DL/Tugas)"] == 75
    assert andi_detail["Menit di luar kantor"] == 45
    assert andi_detail["Koreksi manual"] == 2
    assert [c.value for c in detail[10]][2:5] == ["Jumlah", 1, 0]


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def test_pdf_has_the_table_footer_and_signatures(lb1: export.Document) -> None:
    data = write_pdf(lb1)
    assert data.startswith(b"%PDF-")
    pages, text = pdf_text(data)
    assert pages == 2
    flat = " ".join(text.split())
    assert "REKAPITULASI ABSENSI BULANAN (LB.1)" in flat
    assert "Periode: November 2026" in flat
    for header in ("NIP / NI PPPK / No. Reg", "Nama", "Keterangan", "TL1", "PSW4", "Menit PSW"):
        assert header in flat
    assert "1 19860926 201505 1 001 Andi Saputra, S.Kom. PNS BKPPD 20 13 2" in flat
    assert "65,00 14,50" in flat
    assert "Jumlah 70 41 2" in flat and "58,57" in flat
    assert "Versi aturan: rs-2026.10, rs-2026.11" in flat
    assert "Dibuat: 02-12-2026 09:05 WITA" in flat
    assert "Status: FINAL, oleh Ani Operator" in flat
    assert "Mengetahui, Kepala Badan Kepegawaian dan Pengembangan SDM" in flat
    assert "Drs. Yohanes Kepala, M.Si. NIP 19700101 199003 1 001" in flat
    assert "Pembuat / Operator" in flat and "Kupang, 2 Desember 2026" in flat
    assert "Halaman 1/2" in flat and "Halaman 2/2" in flat
    assert "Rincian cuti dan keterangan lain per pegawai" in flat
    reader = PdfReader(io.BytesIO(data))
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width) / 72 * 25.4), round(float(height) / 72 * 25.4)) == (330, 215)


def test_lb2_exports_carry_the_days(world: World) -> None:
    with world.engine.connect() as conn:
        pr = recap.person_recap(conn, MONTH, world.andi)
    doc = export.lb2_document(pr, generated_at=GENERATED)
    rows = list(csv.reader(io.StringIO(write_csv(doc).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Tanggal", "Hari", "Status", "Kode", "Masuk"]
    assert len(rows) == 31
    assert rows[2][:10] == [
        "02-11-2026",
        "Senin",
        "HADIR",
        "",
        "07:20",
        "fingerprint",
        "16:05",
        "fingerprint",
        "15",
        "TL1",
    ]
    assert rows[2][13] == "0,50"
    assert rows[5][14:] == ["Ya", "lupa absen masuk"]
    wb = load_workbook(io.BytesIO(write_xlsx(doc)))
    assert wb.sheetnames == ["LB.2", "Ringkasan"]
    assert wb["LB.2"]["A2"].value == "Periode: November 2026"
    assert wb["LB.2"]["A3"].value == "Nama: Andi Saputra, S.Kom."
    assert [c.value for c in wb["Ringkasan"][8]][5:8] == [20, 13, 2]
    _, text = pdf_text(write_pdf(doc))
    flat = " ".join(text.split())
    assert "LAPORAN ABSENSI BULANAN PERORANGAN (LB.2)" in flat
    assert "02-11-2026 Senin HADIR 07:20 fingerprint 16:05 fingerprint 15 TL1" in flat


def test_text_is_made_safe() -> None:
    assert latin("Ngurah \u015fa\u2013Rai \u2026 \u00e9") == "Ngurah sa-Rai ... \u00e9"
    assert latin("\u540d") == "?"
    assert export.safe_text("=HYPERLINK()") == "'=HYPERLINK()"
    assert export.safe_text("Andi") == "Andi"


def test_an_empty_month_still_renders(world: World) -> None:
    with world.engine.connect() as conn:
        empty = recap.compute(conn, "2026-01", world.bkppd, now=NOW)
    assert empty.rows == []
    doc = export.lb1_document(empty, generated_at=GENERATED)
    for fmt in export.FORMATS:
        assert export.render(doc, fmt)
    with pytest.raises(ValueError, match="unknown format"):
        export.render(doc, "doc")

"""Recap documents (LB.1 per unit, LB.2 per person) as tables, and their CSV, XLSX and PDF forms.

A :class:`Document` is what every format prints: a title, the period and unit, the main table
with the column headers of domain-id.md §7 in Bahasa Indonesia, detail tables (the leave
breakdown and the other per-person figures), footer lines (rule-set and calendar versions,
generation time in WITA, checksum and finalisation, the PP 94/2021 note) and the two signature
blocks. The writers live in :mod:`.export_csv`, :mod:`.export_xlsx` and :mod:`.export_pdf`;
:func:`render` picks one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from central.attendance.recap import (
    CUTI_CODES,
    MONTHS_ID,
    WITA,
    DayRow,
    PersonRecap,
    Recap,
    RecapRow,
    pct,
)

Cell = str | int | Decimal | None
Format = Literal["csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "pdf")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "json": "application/json",
}

#: The LB.1 columns, exactly as domain-id.md §7 names them (optional Pangkat/Jabatan left out).
LB1_HEADERS = (
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
)
#: Column widths in millimetres on F4 landscape (330 mm); XLSX derives its widths from them.
LB1_WIDTHS = (6, 30, 32, 12, 14, 6.5, 6.5, 13, *([6.5] * 4), 9, *([8.5] * 4), 9)
LB1_WIDTHS += (*([5.5] * 4), 10, 13.5, 13, 53.5)
DETAIL_HEADERS = (
    "No",
    "NIP / NI PPPK / No. Reg",
    "Nama",
    *CUTI_CODES,
    "C",
    "DL/Tugas",
    "% Kehadiran (H + DL/Tugas)",
    "TK berturut-turut terlama",
    "Menit TL + PSW setara hari (7,5 jam)",
    "Menit di luar kantor",
    "Lupa absen masuk",
    "Lupa absen pulang",
    "Koreksi manual",
    "Hari PENDING",
    "Potongan harian tanpa batas (%)",
)
DETAIL_WIDTHS = (6, 26, 34, *([9] * len(CUTI_CODES)), 9, 13, 16, 16, 18, 14, 12, 12, 12, 12, 16)
LB2_HEADERS = (
    "Tanggal",
    "Hari",
    "Status",
    "Kode",
    "Masuk",
    "Sumber Masuk",
    "Pulang",
    "Sumber Pulang",
    "Menit TL",
    "TL",
    "Menit PSW",
    "PSW",
    "Menit di Luar Kantor",
    "Potongan (%)",
    "Koreksi",
    "Catatan",
)
LB2_WIDTHS = (16, 12, 13, 9, 10, 16, 10, 16, 10, 8, 10, 9, 14, 12, 11, 114)
DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
PP94_NOTE = (
    "Ambang PP 94/2021 ditampilkan sebagai peringatan, bukan sanksi: sanksi hanya diputuskan "
    "pejabat berwenang setelah pemeriksaan."
)
DAY_EQUIV_NOTE = (
    "Menit TL + PSW setara hari (7,5 jam = 1 hari, Peraturan BKN 6/2022) ditampilkan terpisah; "
    "aturan ini belum dipastikan."
)


@dataclass(frozen=True, slots=True)
class Table:
    """One table: a sheet in XLSX, a block in PDF; CSV writes the main one only."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: list[list[Cell]]
    widths: tuple[float, ...]
    totals: list[Cell] | None = None


@dataclass(frozen=True, slots=True)
class Signatory:
    """A signature block: the role lines, then a blank space, the name and the NIP."""

    lines: tuple[str, ...]
    name: str = ""
    nip: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A printable recap."""

    code: str  # LB.1 | LB.2
    title: str
    heading: tuple[str, ...]  # period, unit (and person) lines under the title
    main: Table
    details: tuple[Table, ...]
    footer: tuple[str, ...]
    signatures: tuple[Signatory, Signatory]
    place_date: str
    filename: str  # without the extension
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def wita(at: datetime) -> str:
    """``02-12-2026 09:00 WITA``."""
    return f"{at.astimezone(WITA):%d-%m-%Y %H:%M} WITA"


def tanggal(day: datetime) -> str:
    """``2 Desember 2026`` (the date in WITA)."""
    local = day.astimezone(WITA)
    return f"{local.day} {MONTHS_ID[local.month - 1]} {local.year}"


def id_number(value: Decimal) -> str:
    """A decimal with a comma, as written in Indonesia: ``14,50``."""
    return f"{value:.2f}".replace(".", ",")


def keterangan(row: RecapRow) -> str:
    """The Keterangan cell: the PP 94/2021 warning first, then the notes."""
    return "; ".join(t for t in (row.warning, row.keterangan) if t)


def lb1_cells(no: int, r: RecapRow) -> list[Cell]:
    """One LB.1 row in :data:`LB1_HEADERS` order."""
    return [
        no,
        r.number,
        r.name,
        r.status,
        r.unit_code,
        r.hk,
        r.h,
        r.dl,
        *r.tl,
        r.tl_minutes,
        *r.psw,
        r.psw_minutes,
        r.izin,
        r.sakit,
        r.cuti,
        r.tk,
        r.tk_ytd,
        r.pct_hadir,
        r.potongan,
        keterangan(r),
    ]


def lb1_totals(rows: Sequence[RecapRow]) -> list[Cell]:
    """The "Jumlah" row: sums of the counts; % Kehadiran of the unit (sum H / sum HK)."""

    def total(get: Callable[[RecapRow], int]) -> int:
        return sum(get(r) for r in rows)

    hk, h = total(lambda r: r.hk), total(lambda r: r.h)
    tl = [sum(r.tl[k] for r in rows) for k in range(4)]
    psw = [sum(r.psw[k] for r in rows) for k in range(4)]
    counts = [
        *(hk, h, total(lambda r: r.dl), *tl, total(lambda r: r.tl_minutes)),
        *(*psw, total(lambda r: r.psw_minutes), total(lambda r: r.izin)),
        *(total(lambda r: r.sakit), total(lambda r: r.cuti), total(lambda r: r.tk)),
    ]
    return [
        None,
        None,
        "Jumlah",
        None,
        None,
        *counts,
        None,
        pct(h, hk),
        None,
        f"{len(rows)} pegawai",
    ]


def detail_cells(no: int, r: RecapRow) -> list[Cell]:
    """One row of the detail table in :data:`DETAIL_HEADERS` order."""
    return [
        no,
        r.number,
        r.name,
        *[r.cuti_detail.get(c, 0) for c in CUTI_CODES],
        r.cuti,
        r.dl,
        r.pct_hadir_dl,
        r.tk_run,
        r.day_equivalent,
        r.outside_minutes,
        r.forgot_in,
        r.forgot_out,
        r.corrected,
        r.pending,
        r.potongan_raw,
    ]


def _versions(rulesets: Sequence[str], calendars: Sequence[str]) -> str:
    return (
        f"Versi aturan: {', '.join(rulesets) or '-'}; versi kalender libur: "
        f"{', '.join(calendars) or '-'}"
    )


def _signatures(
    unit_name: str, head_name: str, head_nip: str, operator: str
) -> tuple[Signatory, Signatory]:
    return (
        Signatory(("Mengetahui,", f"Kepala {unit_name}".strip()), head_name, head_nip),
        Signatory(("Pembuat / Operator",), operator),
    )


def lb1_document(
    recap: Recap,
    *,
    generated_at: datetime | None = None,
    head_name: str = "",
    head_nip: str = "",
    operator: str = "",
    place: str = "Kupang",
) -> Document:
    """LB.1: the unit's month, one row per person, with the detail table and the footer."""
    at = generated_at or datetime.now(UTC)
    m = recap.month
    unit_line = f"{recap.unit_code} - {recap.unit_name}" if recap.unit_code else recap.unit_name
    status = (
        f"Status: FINAL, oleh {recap.finalized_by} pada {wita(recap.finalized_at)}"
        if recap.finalized_at is not None
        else "Status: DRAF (belum final)"
    )
    cap = f"Batas potongan bulanan: {id_number(recap.monthly_cap)}%"
    if recap.deduction_base:
        cap += f"; dasar potongan: {recap.deduction_base}"
    footer = [
        f"Periode: {m.label} ({m.start:%d-%m-%Y} s.d. {m.end - timedelta(days=1):%d-%m-%Y})",
        f"Unit kerja: {unit_line}",
        _versions(recap.ruleset_versions, recap.calendar_versions),
        cap,
        f"Dibuat: {wita(at)}; dihitung: {wita(recap.computed_at)}",
        f"{status}; checksum sha256: {recap.checksum}",
    ]
    if recap.drift:
        footer.append(f"PERHATIAN: {recap.drift}")
    footer += [PP94_NOTE, DAY_EQUIV_NOTE]
    rows = recap.rows
    detail_totals: list[Cell] = [None, None, "Jumlah"]
    detail_totals += [sum(r.cuti_detail.get(c, 0) for r in rows) for c in CUTI_CODES]
    detail_totals += [sum(r.cuti for r in rows), sum(r.dl for r in rows), *[None] * 9]
    main = Table(
        "LB.1",
        "Rekapitulasi per pegawai",
        LB1_HEADERS,
        [lb1_cells(i, r) for i, r in enumerate(rows, 1)],
        LB1_WIDTHS,
        lb1_totals(rows),
    )
    detail = Table(
        "Rincian Cuti",
        "Rincian cuti dan keterangan lain per pegawai",
        DETAIL_HEADERS,
        [detail_cells(i, r) for i, r in enumerate(rows, 1)],
        DETAIL_WIDTHS,
        detail_totals,
    )
    return Document(
        code="LB.1",
        title="REKAPITULASI ABSENSI BULANAN (LB.1)",
        heading=(f"Periode: {m.label}", f"Unit Kerja: {unit_line}"),
        main=main,
        details=(detail,),
        footer=tuple(footer),
        signatures=_signatures(
            recap.unit_name if recap.unit_code else "." * 30, head_name, head_nip, operator
        ),
        place_date=f"{place}, {tanggal(at)}",
        filename=f"rekap-{m}-{recap.unit_code or 'semua'}",
        generated_at=at,
    )


def _clock(at: datetime | None) -> str:
    return "" if at is None else f"{at.astimezone(WITA):%H:%M}"


def day_cells(day: DayRow) -> list[Cell]:
    """One LB.2 day in :data:`LB2_HEADERS` order; times in WITA."""
    return [
        f"{day.work_date:%d-%m-%Y}",
        DAYS_ID[day.work_date.weekday()],
        day.status,
        day.code or "",
        _clock(day.check_in),
        day.in_source or "",
        _clock(day.check_out),
        day.out_source or "",
        day.late_minutes,
        day.tl or "",
        day.early_minutes,
        day.psw or "",
        day.outside_minutes,
        day.deduction,
        "Ya" if day.corrected else "",
        "; ".join(
            t
            for t in (
                day.note,
                "lupa absen masuk" if day.forgot_in else "",
                "lupa absen pulang" if day.forgot_out else "",
            )
            if t
        ),
    ]


def lb2_document(
    pr: PersonRecap,
    *,
    generated_at: datetime | None = None,
    head_name: str = "",
    head_nip: str = "",
    operator: str = "",
    place: str = "Kupang",
) -> Document:
    """LB.2: one person's days, with the month's summary row(s) as a second table."""
    at = generated_at or datetime.now(UTC)
    m = pr.month
    first = pr.rows[0] if pr.rows else None
    name = first.name if first else f"pegawai {pr.person_id}"
    unit_names = ", ".join(dict.fromkeys(r.unit_name for r in pr.rows)) or "-"
    heading = (
        f"Periode: {m.label}",
        f"Nama: {name}",
        f"NIP / NI PPPK / No. Reg: {first.number if first else '-'}",
        f"Status: {first.status if first else '-'}; Unit Kerja: {unit_names}",
    )
    footer = [
        _versions(
            sorted({d.ruleset_version for d in pr.days}),
            sorted({d.calendar_version for d in pr.days}),
        ),
        f"Dibuat: {wita(at)}",
        "Status: FINAL (" + ", ".join(pr.finalized) + ")" if pr.finalized else "Status: DRAF",
        *[f"PERHATIAN: {t}" for t in pr.drift],
        PP94_NOTE,
    ]
    summary = Table(
        "Ringkasan",
        "Ringkasan bulan (LB.1)",
        LB1_HEADERS,
        [lb1_cells(i, r) for i, r in enumerate(pr.rows, 1)],
        LB1_WIDTHS,
    )
    main = Table("LB.2", "Rincian harian", LB2_HEADERS, [day_cells(d) for d in pr.days], LB2_WIDTHS)
    return Document(
        code="LB.2",
        title="LAPORAN ABSENSI BULANAN PERORANGAN (LB.2)",
        heading=heading,
        main=main,
        details=(summary,),
        footer=tuple(footer),
        signatures=_signatures(unit_names, head_name, head_nip, operator),
        place_date=f"{place}, {tanggal(at)}",
        filename=f"rekap-{m}-pegawai-{pr.person_id}",
        generated_at=at,
    )


def render(doc: Document, fmt: str) -> bytes:
    """The document in ``fmt`` (``csv``, ``xlsx`` or ``pdf``).

    Raises:
        ValueError: An unknown format.
    """
    if fmt == "csv":
        from central.attendance.export_csv import write_csv  # noqa: PLC0415

        return write_csv(doc)
    if fmt == "xlsx":
        from central.attendance.export_xlsx import write_xlsx  # noqa: PLC0415

        return write_xlsx(doc)
    if fmt == "pdf":
        from central.attendance.export_pdf import write_pdf  # noqa: PLC0415

        return write_pdf(doc)
    raise ValueError(f"format {fmt!r} tidak dikenal; pilih csv, xlsx, pdf (unknown format)")


def safe_text(value: str) -> str:
    """Text a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@`` first)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value

"""Roster import from CSV and XLSX: valid rows in, bad rows reported by line, nothing half-done."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Connection, Engine, func, select

from central import registry as r
from central.db import make_engine
from central.identity import EmploymentType
from central.roster import ImportReport, Issue, import_roster
from central.schema.registry import person, person_number

T0 = datetime(2025, 1, 2, tzinfo=UTC)
HEADER = ["NIP", "Nama", "Jenis Pegawai", "Unit Kerja", "Lokasi", "Jadwal"]
GOOD = [
    ["19860926 201505 1 001", "Maria Ndun", "PNS", "BKPPD", "Kantor Utama", "Reguler 5 hari"],
    [
        "200012312024211001",
        "Yohanes Lake",
        "PPPK",
        "Dinas Kesehatan",
        "PKM-OEBOBO;Kantor Utama",
        "",
    ],
    ["199009132025242014", "Sarlota Bire", "PPPK Paruh Waktu", "dinkes", "", ""],
    ["PTT-2019-001", "Yakob Manu", "Honorer", "BKPPD", "", ""],
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    with eng.begin() as conn:
        r.ensure_default_schedules(conn, now=T0)
        bkppd = r.add_unit(conn, "BKPPD", "Badan Kepegawaian, Pendidikan dan Pelatihan Daerah")
        dinkes = r.add_unit(conn, "DINKES", "Dinas Kesehatan")
        r.add_site(conn, unit_id=bkppd.id, name="Kantor Utama", lat=-10.16, lon=123.6)
        r.add_site(conn, unit_id=dinkes.id, name="Kantor Utama", lat=-10.17, lon=123.61)
        r.add_site(
            conn,
            unit_id=dinkes.id,
            name="Puskesmas Oebobo",
            lat=-10.17,
            lon=123.6,
            site_id="PKM-OEBOBO",
        )
    yield eng
    eng.dispose()


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], *, sep: str = ",", bom: bool = False
) -> Path:
    def cell(value: str) -> str:
        return f'"{value}"' if (sep in value or "\n" in value) else value

    text = "\r\n".join(sep.join(cell(v) for v in row) for row in rows) + "\r\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def people(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(person)).scalar_one())


def unit_id(conn: Connection, code: str) -> int:
    found = r.find_unit(conn, code)
    assert found is not None
    return found.id


def lines(report: ImportReport) -> list[int | None]:
    return [i.line for i in report.errors]


@pytest.mark.parametrize(("sep", "bom"), [(",", True), (",", False), (";", False), (";", True)])
def test_csv_good_rows_are_imported(engine: Engine, tmp_path: Path, sep: str, bom: bool) -> None:
    path = write_csv(tmp_path / "pegawai.csv", [HEADER, *GOOD], sep=sep, bom=bom)
    report = import_roster(engine, path, now=T0)
    assert report.errors == []
    assert (report.committed, report.rows, report.created, report.updated) == (True, 4, 4, 0)
    with engine.connect() as conn:
        maria = r.find_person(conn, "198609262015051001")
        assert maria is not None
        assert (maria.name, maria.employment_type) == ("Maria Ndun", EmploymentType.PNS)
        assert maria.unit_id == unit_id(conn, "BKPPD")
        assert maria.schedule_id == r.ensure_default_schedules(conn).id
        assert [s.id for s in r.person_sites(conn, maria.id)] == ["BKPPD-1"]
        yohanes = r.find_person(conn, "20001231 2024 21 1 001")
        assert yohanes is not None
        # "Kantor Utama" exists in two units: the person's own unit's is meant.
        assert [s.id for s in r.person_sites(conn, yohanes.id)] == ["DINKES-1", "PKM-OEBOBO"]
        sarlota = r.find_person(conn, "199009132025242014")
        assert sarlota is not None and sarlota.employment_type is EmploymentType.PPPK_PW
        yakob = r.find_person(conn, "ptt-2019-001")
        assert yakob is not None and yakob.employment_type is EmploymentType.NON_ASN


def test_xlsx_with_title_rows_and_extra_columns(engine: Engine, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["DAFTAR PEGAWAI PEMERINTAH KOTA KUPANG"],
        [],
        ["No", *HEADER, "Jabatan"],
        *([i, *row, "Analis"] for i, row in enumerate(GOOD, 1)),
    ]
    report = import_roster(engine, write_xlsx(tmp_path / "pegawai.xlsx", rows), now=T0)
    assert report.errors == []
    assert (report.created, report.ignored_columns) == (4, ["No", "Jabatan"])
    assert people(engine) == 4


def test_english_headers_are_accepted(engine: Engine, tmp_path: Path) -> None:
    header = ["number", "name", "employment type", "unit", "sites", "schedule"]
    report = import_roster(engine, write_csv(tmp_path / "staff.csv", [header, *GOOD]), now=T0)
    assert (report.errors, report.created) == ([], 4)


BAD = [
    HEADER,  # line 1
    GOOD[0],  # 2
    ["19861331 201505 1 001", "Tanggal Salah", "PNS", "BKPPD", "", ""],  # 3
    ["19860926 201505 3 002", "Kelamin Salah", "PNS", "BKPPD", "", ""],  # 4
    ["198609262015051", "Pendek", "PNS", "BKPPD", "", ""],  # 5
    ["200012312024211001", "Tipe Salah", "PNS", "BKPPD", "", ""],  # 6
    ["PTT-9", "", "Honorer", "BKPPD", "", ""],  # 7
    ["PTT-10", "Unit Salah", "Honorer", "DINAS ENTAH", "", ""],  # 8
    ["PTT-11", "Jenis Salah", "Kontraktor", "BKPPD", "", ""],  # 9
    ["PTT-12", "Lokasi Salah", "Honorer", "BKPPD", "Pasar", ""],  # 10
    ["PTT-13", "Jadwal Salah", "Honorer", "BKPPD", "", "Malam"],  # 11
    ["PTT-14", "Dobel A", "Honorer", "BKPPD", "", ""],  # 12
    [],  # 13: blank, skipped
    ["ptt-14", "Dobel B", "Honorer", "BKPPD", "", ""],  # 14
    GOOD[3],  # 15
]


def test_every_bad_row_is_reported_and_nothing_is_imported(engine: Engine, tmp_path: Path) -> None:
    report = import_roster(engine, write_csv(tmp_path / "bad.csv", BAD), now=T0)
    assert not report.committed and not report.ok
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert people(engine) == 0
    by_line = {i.line: i.message for i in report.errors}
    assert lines(report) == sorted(by_line)
    assert set(by_line) == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14}
    assert "tanggal lahir 19861331 tidak valid (birth date 19861331" in by_line[3]
    assert "kode jenis kelamin 3 harus 1 atau 2" in by_line[4]
    assert "panjang NIP 15 digit, harus 18" in by_line[5]
    assert "tidak cocok dengan nomor berformat NI PPPK" in by_line[6]
    assert "nama kosong (name is empty)" in by_line[7]
    assert "unit kerja 'DINAS ENTAH' tidak dikenal (unknown unit)" in by_line[8]
    assert "jenis pegawai 'Kontraktor' tidak dikenal" in by_line[9]
    assert "lokasi 'Pasar' tidak dikenal (unknown site)" in by_line[10]
    assert "jadwal 'Malam' tidak dikenal (unknown schedule)" in by_line[11]
    assert "juga ada di baris 14 (duplicate of line 14)" in by_line[12]
    assert "juga ada di baris 12 (duplicate of line 12)" in by_line[14]
    assert str(report.errors[0]).startswith("baris 3 (line 3): tanggal lahir")


def test_partial_imports_the_good_rows(engine: Engine, tmp_path: Path) -> None:
    report = import_roster(engine, write_csv(tmp_path / "bad.csv", BAD), partial=True, now=T0)
    assert report.committed
    assert report.created == 2  # lines 2 and 15
    assert len(report.errors) == 11
    assert people(engine) == 2
    with engine.connect() as conn:
        assert r.find_person(conn, "PTT-14") is None  # both duplicates left out


def test_reimport_is_idempotent_and_updates(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pegawai.csv", [HEADER, *GOOD])
    assert import_roster(engine, path, now=T0).created == 4
    again = import_roster(engine, path, now=T0)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 4, [])
    assert people(engine) == 4
    with engine.connect() as conn:
        numbers = conn.execute(select(func.count()).select_from(person_number)).scalar_one()
    assert numbers == 4
    changed = [list(row) for row in GOOD]
    changed[0][1] = "Maria Ndun, S.H."
    changed[0][3] = "DINKES"
    changed[0][4] = ""  # blank Lokasi: back to the unit's sites
    changed[1][2] = "PPPK Paruh Waktu"  # same NI, another type
    report = import_roster(engine, write_csv(tmp_path / "v2.csv", [HEADER, *changed]), now=T0)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 2)
    with engine.connect() as conn:
        maria = r.find_person(conn, "198609262015051001")
        assert maria is not None
        assert (maria.name, maria.unit_id) == ("Maria Ndun, S.H.", unit_id(conn, "DINKES"))
        assert r.person_sites(conn, maria.id) == []
        yohanes = r.find_person(conn, "200012312024211001")
        assert yohanes is not None and yohanes.employment_type is EmploymentType.PPPK_PW


def test_missing_optional_columns_leave_settings_alone(engine: Engine, tmp_path: Path) -> None:
    import_roster(engine, write_csv(tmp_path / "full.csv", [HEADER, *GOOD]), now=T0)
    slim = [HEADER[:4], *(row[:4] for row in GOOD)]
    report = import_roster(engine, write_csv(tmp_path / "slim.csv", slim), now=T0)
    assert (report.unchanged, report.errors) == (4, [])
    with engine.connect() as conn:
        maria = r.find_person(conn, "198609262015051001")
        assert maria is not None and maria.schedule_id is not None
        assert [s.id for s in r.person_sites(conn, maria.id)] == ["BKPPD-1"]


def test_previous_number_carries_a_person_to_a_new_number(engine: Engine, tmp_path: Path) -> None:
    import_roster(engine, write_csv(tmp_path / "v1.csv", [HEADER, *GOOD]), now=T0)
    header = [*HEADER[:4], "Nomor Sebelumnya"]
    rows = [
        header,
        ["199505052025241003", "Yakob Manu", "PPPK Paruh Waktu", "BKPPD", "PTT-2019-001"],
    ]
    later = datetime(2025, 10, 20, tzinfo=UTC)
    report = import_roster(engine, write_csv(tmp_path / "v2.csv", rows), now=later)
    assert (report.errors, report.created, report.updated) == ([], 0, 1)
    with engine.connect() as conn:
        yakob = r.find_person(conn, "199505052025241003")
        assert yakob is not None and yakob.employment_type is EmploymentType.PPPK_PW
        assert r.find_person(conn, "PTT-2019-001") is None
        assert [h.number for h in r.number_history(conn, yakob.id)] == [
            "PTT-2019-001",
            "199505052025241003",
        ]
    # The same file again: matched by the new number now, nothing changes.
    assert import_roster(engine, tmp_path / "v2.csv", now=later).unchanged == 1
    # The closed number cannot come back as someone new.
    rows = [HEADER[:4], ["PTT-2019-001", "Orang Baru", "Honorer", "BKPPD"]]
    report = import_roster(engine, write_csv(tmp_path / "v3.csv", rows), now=later)
    assert "sudah tidak berlaku" in report.errors[0].message


def test_xlsx_number_cells(engine: Engine, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        HEADER[:4],
        [198609262015051001, "Angka Excel", "PNS", "BKPPD"],  # lost digits in real Excel
        [123456789, "Honorer Angka", "Honorer", "BKPPD"],  # short: exact as a number
        ["200012312024211001", "Teks", "PPPK", "DINKES"],
    ]
    report = import_roster(engine, write_xlsx(tmp_path / "angka.xlsx", rows), partial=True, now=T0)
    assert lines(report) == [2]
    assert "format kolom NIP sebagai Teks" in report.errors[0].message
    assert report.created == 2
    with engine.connect() as conn:
        assert r.find_person(conn, "123456789") is not None


def test_inactive_site_is_refused(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        r.set_site_active(conn, "PKM-OEBOBO", False)
    report = import_roster(engine, write_csv(tmp_path / "p.csv", [HEADER, GOOD[1]]), now=T0)
    assert [str(i) for i in report.errors] == [
        "baris 2 (line 2): lokasi 'PKM-OEBOBO' tidak aktif (site 'PKM-OEBOBO' is inactive)"
    ]


def test_warnings_do_not_block(engine: Engine, tmp_path: Path) -> None:
    rows = [HEADER[:4], ["20100101 201601 1 001", "Terlalu Muda", "PNS", "BKPPD"]]
    report = import_roster(engine, write_csv(tmp_path / "w.csv", rows), now=T0)
    assert (report.created, report.errors) == (1, [])
    assert [w.line for w in report.warnings] == [2]
    assert "di bawah 18 tahun" in report.warnings[0].message


def test_line_numbers_count_physical_lines(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text(
        "NIP,Nama,Jenis Pegawai,Unit Kerja\n"
        '"PTT-1","Nama\ndua baris",Honorer,BKPPD\n'
        '"PTT-2","Salah",Honorer,ENTAH\n',
        encoding="utf-8",
    )
    report = import_roster(engine, path, now=T0)
    assert lines(report) == [4]


def test_same_person_twice_via_previous_number(engine: Engine, tmp_path: Path) -> None:
    import_roster(engine, write_csv(tmp_path / "v1.csv", [HEADER, *GOOD]), now=T0)
    header = [*HEADER[:4], "Nomor Sebelumnya"]
    rows = [
        header,
        ["PTT-2019-001", "Yakob Manu", "Honorer", "BKPPD", ""],
        ["199505052025241003", "Yakob Manu", "PPPK Paruh Waktu", "BKPPD", "PTT-2019-001"],
    ]
    report = import_roster(engine, write_csv(tmp_path / "v2.csv", rows), now=T0)
    assert [str(i) for i in report.errors] == [
        "baris 3 (line 3): orang yang sama dengan baris 2 (same person as line 2)"
    ]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("a.csv", b"Nama,Unit\nX,Y\n", "baris judul tidak ditemukan"),
        ("b.csv", b"NIP,Nama,Unit Kerja\n1,X,Y\n", "kolom wajib tidak ada: Jenis Pegawai"),
        (
            "c.csv",
            "NIP;Nama;Jenis;Unit\nPTT-1;Sébastien;Honorer;BKPPD\n".encode("cp1252"),
            "bukan UTF-8",
        ),
        ("d.xls", b"\xd0\xcf\x11\xe0", "format .xls tidak didukung"),
        ("e.xlsx", b"not a zip", "XLSX tidak bisa dibaca"),
        ("f.csv", b"NIP,Nomor,Nama,Jenis,Unit\n", "ganda"),
    ],
)
def test_unreadable_files(
    engine: Engine, tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = import_roster(engine, path)
    assert not report.committed
    assert [i.line for i in report.errors] == [None]
    assert words in report.errors[0].message
    assert str(report.errors[0]).startswith("berkas (file): ")


def test_missing_file(engine: Engine, tmp_path: Path) -> None:
    report = import_roster(engine, tmp_path / "tidak-ada.csv")
    assert report.errors[0] == Issue(None, report.errors[0].message)
    assert not report.committed

"""Roster import: the personnel office's CSV or XLSX list of staff into the registry.

The file is checked whole before anything is written, inside one transaction: by default a single
bad row means nothing is imported (a half-imported roster is worse than none, because nobody
knows which half), and every bad row is reported with its line number and the reason, in Bahasa
with English. ``partial=True`` imports the good rows and reports the rest. Importing the same
file again changes nothing; a changed name, unit, type, schedule or site list is updated. An
optional column left out (``Lokasi``, ``Jadwal``) leaves that setting alone; a blank cell in it
clears the setting (the unit's sites and schedule apply).

A person is matched by their current number. A number change (a honorer appointed PPPK paruh
waktu, a new NI PPPK) is carried by the optional ``Nomor Sebelumnya`` column; without it the new
number would be a new person. An import never deactivates anyone missing from the file (a file
may cover one unit) nor reactivates anyone: leaving is recorded in the registry, not inferred.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from central import registry
from central.identity import (
    DEFAULT_LOCAL_PATTERN,
    EmploymentType,
    InvalidIdentity,
    NumberKind,
    check_number,
    lookup_forms,
)
from central.schema.registry import person, person_number, person_site

log = logging.getLogger(__name__)

# Header aliases, compared after folding case and spaces. "NIP Lama" is deliberately absent:
# in Indonesian it is the old 9-digit NIP, not the previous number.
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("nip", "nomor", "number", "nip/ni pppk", "ni pppk", "nomor induk", "no. induk"),
    "name": ("nama", "name", "nama pegawai", "nama lengkap"),
    "employment_type": ("jenis pegawai", "jenis", "status pegawai", "employment type"),
    "unit": ("unit kerja", "opd", "unit", "perangkat daerah"),
    "sites": ("lokasi", "lokasi absen", "site", "sites"),
    "schedule": ("jadwal", "jadwal kerja", "schedule"),
    "previous_number": ("nomor sebelumnya", "previous number"),
}
REQUIRED = ("number", "name", "employment_type", "unit")
_HEADER_SCAN_ROWS = 10  # BKPPD sheets often have a title row or two above the header

EMPLOYMENT_ALIASES: dict[str, EmploymentType] = {
    "pns": EmploymentType.PNS,
    "cpns": EmploymentType.CPNS,
    "pppk": EmploymentType.PPPK,
    "pppk penuh waktu": EmploymentType.PPPK,
    "pppk paruh waktu": EmploymentType.PPPK_PW,
    "pppk pw": EmploymentType.PPPK_PW,
    "pppk-pw": EmploymentType.PPPK_PW,
    "pppk_pw": EmploymentType.PPPK_PW,
    "honorer": EmploymentType.NON_ASN,
    "ptt": EmploymentType.NON_ASN,
    "non-asn": EmploymentType.NON_ASN,
    "non asn": EmploymentType.NON_ASN,
    "non_asn": EmploymentType.NON_ASN,
    "tenaga kontrak": EmploymentType.NON_ASN,
}
# Excel keeps numbers as doubles: 15 significant digits survive, an 18-digit NIP does not.
_EXACT_DIGITS = 15
_CHUNK = 500  # keeps IN lists within every backend's parameter limits


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem with one line of the file (``line`` None: the whole file)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        where = "berkas (file)" if self.line is None else f"baris {self.line} (line {self.line})"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    """What an import did, or would have done.

    Attributes:
        path: The file.
        committed: Whether anything was written (False when errors stopped an all-or-nothing run).
        rows: Data rows read (blank rows not counted).
        created, updated, unchanged: People, by outcome (all 0 when not committed).
        errors: Bad rows (and file-level problems, line None), in file order.
        warnings: Rows imported with a doubt (an implausible NIP, say).
        ignored_columns: Headers that are not roster columns (Jabatan, Golongan, ...).
    """

    path: str
    committed: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors at all."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Valid:
    line: int
    number: str
    kind: NumberKind
    previous: str | None
    name: str
    employment_type: EmploymentType
    unit_id: int
    site_ids: tuple[str, ...] | None  # None: the file has no Lokasi column, leave links be
    schedule_id: int | None
    schedule_given: bool


class RosterFileError(ValueError):
    """The file as a whole cannot be read as a roster."""


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return str(value)
        digits = str(int(value))
        if len(digits) > _EXACT_DIGITS:
            raise InvalidIdentity(
                "characters",
                f"angka {digits} disimpan Excel sebagai bilangan dan digit terakhirnya hilang; "
                f"format kolom NIP sebagai Teks (Excel stored the NIP as a number and lost its "
                f"last digits: format the column as Text)",
            )
        return digits
    return str(value).strip()


def _read_csv(path: Path) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # with or without a BOM
    except UnicodeDecodeError as exc:
        raise RosterFileError(
            f"berkas bukan UTF-8 (byte {exc.start}); simpan sebagai 'CSV UTF-8' "
            f"(the file is not UTF-8: save it as 'CSV UTF-8')"
        ) from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    # The header tells the delimiter: Excel in an Indonesian locale writes ';', elsewhere ','.
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    for record in reader:
        yield line, record
        line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX imports need it

    with warnings.catch_warnings():
        # Real BKPPD workbooks carry data-validation and style extensions openpyxl only warns about.
        warnings.simplefilter("ignore")
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # zipfile, XML and openpyxl errors alike
            raise RosterFileError(
                f"berkas XLSX tidak bisa dibaca (cannot read the XLSX file): {exc}"
            ) from exc
        try:
            for index, values in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
                yield index, list(values)
        finally:
            book.close()


def _records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise RosterFileError(
        f"format {suffix or '(tanpa akhiran)'} tidak didukung; pakai .csv atau .xlsx "
        f"(unsupported format: use .csv or .xlsx)"
    )


def _header(values: Sequence[Any]) -> tuple[dict[int, str], list[str]] | None:
    """Map column positions to roster fields, if ``values`` is a header row."""
    alias = {a: key for key, names in COLUMNS.items() for a in names}
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for pos, value in enumerate(values):
        title = "" if value is None else str(value).strip()
        key = alias.get(_fold(title))
        if key is None:
            if title:
                ignored.append(title)
        elif key in mapping.values():
            raise RosterFileError(
                f"kolom {title!r} ganda untuk {key} (two columns for the same field)"
            )
        else:
            mapping[pos] = key
    if "number" not in mapping.values() or "name" not in mapping.values():
        return None
    return mapping, ignored


def _rows(path: Path, report: ImportReport) -> list[_Row]:
    records = _records(path)
    mapping: dict[int, str] | None = None
    rows: list[_Row] = []
    for line, values in records:
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        if mapping is None:
            found = _header(values)
            if found is None:
                if line >= _HEADER_SCAN_ROWS:
                    break
                continue
            mapping, report.ignored_columns = found
            missing = [k for k in REQUIRED if k not in mapping.values()]
            if missing:
                names = ", ".join(COLUMNS[k][0].title() for k in missing)
                raise RosterFileError(f"kolom wajib tidak ada: {names} (required columns missing)")
            continue
        cells: dict[str, str] = {}
        try:
            for pos, key in mapping.items():
                cells[key] = _cell(values[pos] if pos < len(values) else None)
        except InvalidIdentity as exc:
            report.errors.append(Issue(line, exc.message))
            cells = {}
        rows.append(_Row(line, cells))
    if mapping is None:
        wanted = ", ".join(COLUMNS[k][0].title() for k in REQUIRED)
        raise RosterFileError(
            f"baris judul tidak ditemukan; kolom wajib: {wanted} "
            f"(no header row found; required columns: {wanted})"
        )
    return rows


class _Catalog:
    """Units, sites and schedules loaded once, so each row is checked without a query."""

    def __init__(self, conn: Connection) -> None:
        self.units = registry.list_units(conn)
        self.sites = registry.list_sites(conn)
        self.schedules = registry.list_schedules(conn)

    def unit(self, key: str) -> registry.Unit:
        by_code = [u for u in self.units if u.code.casefold() == key.casefold()]
        by_name = [u for u in self.units if _fold(u.name) == _fold(key)]
        if by_code:
            return by_code[0]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise ValueError(
                f"nama unit {key!r} ganda; pakai kode (ambiguous unit name: use a code)"
            )
        raise ValueError(f"unit kerja {key!r} tidak dikenal (unknown unit)")

    def site(self, key: str, unit_id: int) -> str:
        by_id = [s for s in self.sites if s.id.casefold() == key.casefold()]
        # A name is looked for in the person's own unit first: "Kantor Utama" is common.
        named = [s for s in self.sites if _fold(s.name) == _fold(key)]
        own = [s for s in named if s.unit_id == unit_id]
        found = by_id or own or named
        if not found:
            raise ValueError(f"lokasi {key!r} tidak dikenal (unknown site)")
        if len(found) > 1:
            raise ValueError(
                f"lokasi {key!r} ganda; pakai kode lokasi (ambiguous site: use its id)"
            )
        if not found[0].active:
            raise ValueError(f"lokasi {key!r} tidak aktif (site {key!r} is inactive)")
        return found[0].id

    def schedule(self, key: str) -> int:
        for s in self.schedules:
            if _fold(s.name) == _fold(key):
                return s.id
        raise ValueError(f"jadwal {key!r} tidak dikenal (unknown schedule)")


def _check_row(row: _Row, catalog: _Catalog, local_pattern: str) -> tuple[_Valid, list[str]]:
    """Validate one row; raises ValueError with the reason, returns warnings with the row."""
    c = row.cells
    name = " ".join(c.get("name", "").split())
    if not name:
        raise ValueError("nama kosong (name is empty)")
    if len(name) > 200:
        raise ValueError("nama lebih dari 200 huruf (name longer than 200 characters)")
    kind_text = c.get("employment_type", "")
    etype = EMPLOYMENT_ALIASES.get(_fold(kind_text).replace(".", ""))
    if etype is None:
        raise ValueError(
            f"jenis pegawai {kind_text!r} tidak dikenal; pakai PNS, CPNS, PPPK, PPPK Paruh Waktu, "
            f"Honorer atau Non-ASN (unknown employment type)"
        )
    if not c.get("number"):
        raise ValueError("NIP/nomor kosong (number is empty)")
    checked = check_number(c["number"], etype, local_pattern=local_pattern)
    if not c.get("unit"):
        raise ValueError("unit kerja kosong (unit is empty)")
    unit = catalog.unit(c["unit"])
    sites: tuple[str, ...] | None = None
    if "sites" in c:
        keys = [k.strip() for k in c["sites"].split(";") if k.strip()]
        sites = tuple(sorted({catalog.site(k, unit.id) for k in keys}))
    schedule_id = catalog.schedule(c["schedule"]) if c.get("schedule") else None
    previous = c.get("previous_number") or None
    valid = _Valid(
        line=row.line,
        number=checked.number,
        kind=checked.kind,
        previous=previous,
        name=name,
        employment_type=etype,
        unit_id=unit.id,
        site_ids=sites,
        schedule_id=schedule_id,
        schedule_given="schedule" in c,
    )
    return valid, list(checked.warnings)


def _holdings(conn: Connection, numbers: set[str]) -> dict[str, list[Any]]:
    """Every stored row (current or closed) of the given numbers, by number."""
    found: dict[str, list[Any]] = defaultdict(list)
    ordered = sorted(numbers)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        for r in conn.execute(select(person_number).where(person_number.c.number.in_(chunk))):
            found[r.number].append(r)
    return found


def _match(v: _Valid, held: dict[str, list[Any]]) -> int | None:
    """The person a row is about: the holder of its number, else of its previous number."""
    current = [r for r in held.get(v.number, []) if r.valid_to is None]
    if current:
        return int(current[0].person_id)
    if held.get(v.number):
        raise ValueError(
            "nomor ini sudah tidak berlaku (ditutup); tidak bisa dipakai lagi "
            "(this number was closed and cannot be reused)"
        )
    if v.previous is None:
        return None
    for form in lookup_forms(v.previous):
        for r in held.get(form, []):
            if r.valid_to is None and r.kind != "LEGACY":
                return int(r.person_id)
    raise ValueError(
        f"nomor sebelumnya {v.previous!r} tidak dimiliki siapa pun saat ini "
        f"(previous number is not held by anyone)"
    )


def _duplicates(valid: list[_Valid], report: ImportReport) -> set[int]:
    """Lines whose number appears more than once in the file; each is reported, naming the rest."""
    lines: dict[str, list[int]] = defaultdict(list)
    for v in valid:
        lines[v.number].append(v.line)
    bad: set[int] = set()
    for number, where in lines.items():
        if len(where) < 2:
            continue
        for line in where:
            others = ", ".join(str(x) for x in where if x != line)
            report.errors.append(
                Issue(
                    line, f"nomor {number} juga ada di baris {others} (duplicate of line {others})"
                )
            )
            bad.add(line)
    return bad


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the database holds for a matched person, to tell an update from a no-op."""

    name: str
    employment_type: str
    unit_id: int
    schedule_id: int | None
    number: str | None
    site_ids: tuple[str, ...]


def _stored(conn: Connection, ids: list[int]) -> dict[int, _Stored]:
    """The stored state of ``ids``, read in a few queries rather than a few per person."""
    numbers: dict[int, str] = {}
    sites: dict[int, list[str]] = defaultdict(list)
    rows: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows += conn.execute(select(person).where(person.c.id.in_(chunk))).all()
        for n in conn.execute(
            select(person_number.c.person_id, person_number.c.number).where(
                person_number.c.person_id.in_(chunk)
                & person_number.c.valid_to.is_(None)
                & (person_number.c.kind != NumberKind.LEGACY.value)
            )
        ):
            numbers[n.person_id] = n.number
        for link in conn.execute(select(person_site).where(person_site.c.person_id.in_(chunk))):
            sites[link.person_id].append(link.site_id)
    return {
        r.id: _Stored(
            r.name,
            r.employment_type,
            r.unit_id,
            r.schedule_id,
            numbers.get(r.id),
            tuple(sorted(sites[r.id])),  # sorted here: database collations differ
        )
        for r in rows
    }


def _create(conn: Connection, rows: list[_Valid], now: datetime) -> None:
    """Insert new people, their numbers and site links in three batched statements.

    Everything was checked in :func:`_plan`; the database's unique index on current numbers
    still guards against a concurrent import.
    """
    if not rows:
        return
    ids = conn.execute(
        insert(person).returning(person.c.id, sort_by_parameter_order=True),
        [
            {
                "name": v.name,
                "employment_type": v.employment_type.value,
                "unit_id": v.unit_id,
                "schedule_id": v.schedule_id,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for v in rows
        ],
    ).scalars()
    numbers: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for v, person_id in zip(rows, ids, strict=True):
        numbers.append(
            {"person_id": person_id, "number": v.number, "kind": v.kind.value, "valid_from": now}
        )
        links += [{"person_id": person_id, "site_id": s} for s in v.site_ids or ()]
    conn.execute(insert(person_number), numbers)
    if links:
        conn.execute(insert(person_site), links)


def _update(conn: Connection, v: _Valid, person_id: int, before: _Stored, now: datetime) -> bool:
    """Bring one known person in line with their row; False when nothing differed."""
    changed = False
    if before.number != v.number or before.employment_type != v.employment_type.value:
        registry.change_number(conn, person_id, v.number, employment_type=v.employment_type, at=now)
        changed = True
    schedule_id = v.schedule_id if v.schedule_given else before.schedule_id
    if (before.name, before.unit_id, before.schedule_id) != (v.name, v.unit_id, schedule_id):
        registry.update_person(
            conn, person_id, name=v.name, unit_id=v.unit_id, schedule_id=schedule_id, now=now
        )
        changed = True
    if v.site_ids is not None and v.site_ids != before.site_ids:
        registry.set_person_sites(conn, person_id, v.site_ids)
        changed = True
    return changed


class _Refused(Exception):
    """Raised inside the transaction to roll it back: the file is not imported."""


def _plan(
    conn: Connection, rows: list[_Row], report: ImportReport, local_pattern: str
) -> list[tuple[_Valid, int | None]]:
    """Check every row against the rules and the database; the good rows with their person.

    Bad rows go to ``report.errors`` (sorted by line), doubts to ``report.warnings``.
    """
    catalog = _Catalog(conn)
    unreadable = {i.line for i in report.errors}
    valid: list[_Valid] = []
    for row in rows:
        if row.line in unreadable:
            continue
        try:
            v, doubts = _check_row(row, catalog, local_pattern)
        except ValueError as exc:  # InvalidIdentity included: its message names the field
            report.errors.append(Issue(row.line, str(exc)))
            continue
        valid.append(v)
        report.warnings.extend(Issue(row.line, w) for w in doubts)
    duplicated = _duplicates(valid, report)
    wanted = {v.number for v in valid}
    wanted |= {f for v in valid if v.previous for f in lookup_forms(v.previous)}
    held = _holdings(conn, wanted)
    plan: list[tuple[_Valid, int | None]] = []
    claimed: dict[int, int] = {}
    for v in valid:
        if v.line in duplicated:
            continue
        try:
            person_id = _match(v, held)
            if person_id is not None and person_id in claimed:
                other = claimed[person_id]
                raise ValueError(
                    f"orang yang sama dengan baris {other} (same person as line {other})"
                )
        except ValueError as exc:
            report.errors.append(Issue(v.line, str(exc)))
            continue
        if person_id is not None:
            claimed[person_id] = v.line
        plan.append((v, person_id))
    report.errors.sort(key=lambda i: i.line or 0)
    failed = {i.line for i in report.errors}
    report.warnings = [w for w in report.warnings if w.line not in failed]
    return plan


def import_roster(
    engine: Engine,
    path: str | Path,
    *,
    partial: bool = False,
    local_pattern: str = DEFAULT_LOCAL_PATTERN,
    now: datetime | None = None,
) -> ImportReport:
    """Import a roster file (CSV or XLSX, see the module doc) in one transaction.

    Args:
        engine: The central database.
        path: A ``.csv`` (UTF-8, with or without BOM; ``,`` ``;`` or tab) or ``.xlsx`` file
            (first sheet). The header may sit below a title row or two.
        partial: Import the valid rows even when others are bad. By default any bad row
            means nothing is written.
        local_pattern: The NON_ASN register format (see :mod:`central.identity`).
        now: The time recorded as the start of new numbers; defaults to now.

    Returns:
        The report: counts, bad rows with their lines and reasons, warnings.
    """
    path = Path(path)
    report = ImportReport(path=str(path))
    at = now if now is not None else datetime.now(UTC)
    try:
        rows = _rows(path, report)
    except RosterFileError as exc:
        report.errors.append(Issue(None, str(exc)))
        return report
    except OSError as exc:
        report.errors.append(
            Issue(None, f"berkas tidak bisa dibuka (cannot open the file): {exc.strerror}")
        )
        return report
    report.rows = len(rows)
    try:
        with engine.begin() as conn:
            plan = _plan(conn, rows, report, local_pattern)
            if report.errors and not partial:
                raise _Refused
            known = [(v, person_id) for v, person_id in plan if person_id is not None]
            stored = _stored(conn, [person_id for _, person_id in known])
            for v, person_id in known:
                try:
                    changed = _update(conn, v, person_id, stored[person_id], at)
                except (registry.RegistryError, InvalidIdentity) as exc:
                    # Only a concurrent change gets here: every rule was checked in _plan. With
                    # no savepoints (pysqlite's are unreliable) one row cannot be undone alone.
                    report.errors.append(Issue(v.line, f"{exc} (nothing imported)"))
                    raise _Refused from exc
                report.updated += changed
                report.unchanged += not changed
            new = [v for v, person_id in plan if person_id is None]
            _create(conn, new, at)
            report.created = len(new)
    except _Refused:
        log.warning("roster refused file=%s errors=%d", path.name, len(report.errors))
        return report
    report.committed = True
    log.info(
        "roster imported file=%s rows=%d created=%d updated=%d unchanged=%d errors=%d",
        path.name,
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        len(report.errors),
    )
    return report

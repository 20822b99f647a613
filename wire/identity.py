"""Identity numbers: NIP PNS, NI PPPK, the old 9-digit NIP and local register numbers (§1).

The rules are those of domain-id.md §1.5. A failed check raises :class:`InvalidIdentity` whose
message names the field in Bahasa Indonesia with English beside it, because the person reading it
is usually a BKPPD officer fixing a spreadsheet. Plausibility problems (an 16-year-old CPNS, a
TMT in the future) are *warnings*: old conversions and corrected birth dates make odd but real
numbers (§1.1), so they must not block an import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

#: The local register format for NON_ASN staff. [KUPANG-CONFIRM] BKPPD has not said whether a
#: register exists or what it looks like (§1.4, §11 q7); this accepts codes like ``PTT-2019-001``
#: or ``THL/DLH/12`` and is configuration, not a rule: pass another pattern where it differs.
DEFAULT_LOCAL_PATTERN = r"^[A-Z0-9][A-Z0-9./-]{2,31}$"

_SEPARATORS = re.compile(r"[\s.\-]+")
_DIGITS = re.compile(r"[0-9]+")
_NIK_LENGTH = 16
_NIP_LENGTH = 18
_LEGACY_LENGTH = 9
# §1.5: a birth year outside [1940, today - 15] is suspicious. Age at TMT: CPNS applicants are
# at least 18 (§1.1, [UNCERTAIN]); nobody is first appointed past 60.
_MIN_BIRTH_YEAR = 1940
_MIN_AGE_NOW = 15
_MIN_AGE_AT_TMT = 18
_MAX_AGE_AT_TMT = 60


class InvalidIdentity(ValueError):
    """A number that breaks the §1.5 rules.

    Attributes:
        field: The failing part, in English (``birth_date``, ``tmt_month``, ``sex``,
            ``sequence``, ``kind_digit``, ``contract_code``, ``length``, ``characters``,
            ``employment_type``, ``local_format``).
        message: Bahasa Indonesia first, English in brackets.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NumberKind(StrEnum):
    """What a stored number is: the values of ``person_number.kind``."""

    PNS = "PNS"  # NIP, 18 digits, Perka BKN 22/2007
    PPPK = "PPPK"  # NI PPPK, 18 digits, digit 13 = 2
    LEGACY = "LEGACY"  # old 9-digit NIP: a reference only, never a key or a login (§1.3)
    LOCAL = "LOCAL"  # a locally issued register number for NON_ASN staff (§1.4)


class EmploymentType(StrEnum):
    """``person.employment_type`` (§1.4)."""

    PNS = "PNS"
    CPNS = "CPNS"
    PPPK = "PPPK"
    PPPK_PW = "PPPK_PW"  # PPPK paruh waktu (part-time), KepmenPANRB 16/2025
    NON_ASN = "NON_ASN"  # honorer / PTT / outsourced, no BKN number

    @property
    def number_kind(self) -> NumberKind:
        """The kind of number this employment type is identified by."""
        if self in (EmploymentType.PNS, EmploymentType.CPNS):
            return NumberKind.PNS
        if self in (EmploymentType.PPPK, EmploymentType.PPPK_PW):
            return NumberKind.PPPK
        return NumberKind.LOCAL


class Sex(StrEnum):
    """Digit 15: ``1`` laki-laki (L), ``2`` perempuan (P)."""

    L = "L"
    P = "P"


@dataclass(frozen=True, slots=True)
class ParsedId:
    """An 18-digit NIP or NI PPPK, taken apart.

    Attributes:
        number: The 18 bare digits, as stored.
        kind: :attr:`NumberKind.PNS` or :attr:`NumberKind.PPPK`.
        birth_date: Digits 1-8.
        tmt_year: Year of the first appointment (CPNS or calon PPPK).
        tmt_month: Month of the TMT CPNS (PNS only; a NI PPPK has no month).
        contract_code: Digit 14 of a NI PPPK ("jumlah perjanjian kerja", 1-9); None for PNS.
        sex: Digit 15.
        sequence: Digits 16-18, 1-999.
        warnings: Plausibility doubts, each in Bahasa with English; empty when none.
    """

    number: str
    kind: NumberKind
    birth_date: date
    tmt_year: int
    tmt_month: int | None
    contract_code: int | None
    sex: Sex
    sequence: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def tmt(self) -> str:
        """The TMT as written in the number: ``2015-05`` (PNS) or ``2024`` (PPPK)."""
        if self.tmt_month is None:
            return f"{self.tmt_year:04d}"
        return f"{self.tmt_year:04d}-{self.tmt_month:02d}"


@dataclass(frozen=True, slots=True)
class CheckedNumber:
    """A number checked against an employment type: what to store, and any warnings."""

    number: str
    kind: NumberKind
    warnings: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Strip spaces, dots and hyphens, so ``19860926 201505 1 001`` becomes 18 bare digits.

    Does not check that the rest is digits: :func:`parse_nip` does, with a message.
    """
    return _SEPARATORS.sub("", text)


def format_nip(number: str) -> str:
    """Group an 18-digit number 8-6-1-3 for display (``19860926 201505 1 001``)."""
    if len(number) != _NIP_LENGTH:
        return number
    return f"{number[:8]} {number[8:14]} {number[14]} {number[15:]}"


def mask(number: str) -> str:
    """A number safe for logs: only the last three characters (a NIP carries a birth date)."""
    return "…" + number[-3:] if len(number) > 3 else "…"


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_nip(text: str, *, today: date | None = None) -> ParsedId:
    """Validate and take apart an 18-digit NIP PNS or NI PPPK (§1.1, §1.2, §1.5).

    Args:
        text: The number as written; spaces, dots and hyphens are ignored.
        today: For the plausibility warnings; defaults to the current date.

    Returns:
        The parts, with plausibility warnings in :attr:`ParsedId.warnings`.

    Raises:
        InvalidIdentity: Naming the first failing field.
    """
    d = normalize(text)
    if not d or _DIGITS.fullmatch(d) is None:
        raise InvalidIdentity(
            "characters",
            f"NIP {text.strip()!r} harus berupa angka (NIP must contain digits only)",
        )
    if len(d) == _LEGACY_LENGTH:
        raise InvalidIdentity(
            "length",
            f"NIP lama 9 digit {d} hanya boleh disimpan sebagai referensi, bukan nomor pegawai "
            "(an old 9-digit NIP is a reference only, not an identifier)",
        )
    if len(d) != _NIP_LENGTH:
        raise InvalidIdentity(
            "length",
            f"panjang NIP {len(d)} digit, harus 18 (NIP has {len(d)} digits, must have 18)",
        )
    birth = _date_or_none(int(d[0:4]), int(d[4:6]), int(d[6:8]))
    if birth is None:
        raise InvalidIdentity(
            "birth_date",
            f"tanggal lahir {d[0:8]} tidak valid (birth date {d[0:8]} is not a real date)",
        )
    kind_digit = d[12]
    tmt_month: int | None
    contract: int | None
    if kind_digit in "01":
        kind = NumberKind.PNS
        tmt_year, tmt_month, contract = int(d[8:12]), int(d[12:14]), None
        if not 1 <= tmt_month <= 12:
            raise InvalidIdentity(
                "tmt_month",
                f"bulan TMT CPNS {d[12:14]} tidak valid, harus 01-12 "
                f"(TMT month {d[12:14]} must be 01-12)",
            )
    elif kind_digit == "2":
        kind = NumberKind.PPPK
        tmt_year, tmt_month, contract = int(d[8:12]), None, int(d[13])
        if contract == 0:
            raise InvalidIdentity(
                "contract_code",
                "kode perjanjian kerja (digit ke-14) 0 tidak valid, harus 1-9 "
                "(contract code, digit 14, must be 1-9)",
            )
    else:
        raise InvalidIdentity(
            "kind_digit",
            f"digit ke-13 {kind_digit} tidak valid: 0/1 untuk NIP PNS, 2 untuk NI PPPK "
            f"(digit 13 is {kind_digit}: must be 0 or 1 for a PNS NIP, 2 for a NI PPPK)",
        )
    if tmt_year <= birth.year:
        raise InvalidIdentity(
            "tmt_year",
            f"tahun TMT {tmt_year} harus setelah tahun lahir {birth.year} "
            f"(TMT year {tmt_year} must be after the birth year {birth.year})",
        )
    if d[14] not in "12":
        raise InvalidIdentity(
            "sex",
            f"kode jenis kelamin {d[14]} harus 1 atau 2 (sex code {d[14]} must be 1 or 2)",
        )
    if d[15:18] == "000":
        raise InvalidIdentity(
            "sequence",
            "nomor urut 000 tidak valid, harus 001-999 (sequence 000 is invalid, must be 001-999)",
        )
    parsed = ParsedId(
        number=d,
        kind=kind,
        birth_date=birth,
        tmt_year=tmt_year,
        tmt_month=tmt_month,
        contract_code=contract,
        sex=Sex.L if d[14] == "1" else Sex.P,
        sequence=int(d[15:18]),
    )
    warnings = plausibility_warnings(parsed, today=today or date.today())
    return replace(parsed, warnings=tuple(warnings))


def plausibility_warnings(parsed: ParsedId, *, today: date) -> list[str]:
    """Doubts about a well-formed number, each in Bahasa with English (§1.1, §1.5).

    Never errors: conversions from the old NIP carry old TMTs, and birth dates get corrected.
    """
    warnings: list[str] = []
    birth = parsed.birth_date
    if not _MIN_BIRTH_YEAR <= birth.year <= today.year - _MIN_AGE_NOW:
        warnings.append(
            f"tahun lahir {birth.year} tidak wajar (birth year {birth.year} is implausible)"
        )
    # Age at TMT: a PNS TMT starts on the 1st of its month; a NI PPPK has only the year, so
    # its youngest case (31 December) and oldest case (1 January) are taken, to warn only when
    # the number cannot be plausible on any day of that year.
    youngest = date(parsed.tmt_year, parsed.tmt_month or 12, 31 if parsed.tmt_month is None else 1)
    oldest = date(parsed.tmt_year, parsed.tmt_month or 1, 1)
    if _age(birth, youngest) < _MIN_AGE_AT_TMT:
        warnings.append(
            f"umur pada TMT {parsed.tmt} di bawah {_MIN_AGE_AT_TMT} tahun "
            f"(age at TMT {parsed.tmt} is under {_MIN_AGE_AT_TMT})"
        )
    elif _age(birth, oldest) > _MAX_AGE_AT_TMT:
        warnings.append(
            f"umur pada TMT {parsed.tmt} di atas {_MAX_AGE_AT_TMT} tahun "
            f"(age at TMT {parsed.tmt} is over {_MAX_AGE_AT_TMT})"
        )
    if oldest > today:
        warnings.append(f"TMT {parsed.tmt} di masa depan (TMT {parsed.tmt} is in the future)")
    return warnings


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def parse_legacy_nip(text: str) -> str:
    """Validate an old 9-digit NIP (``nip_lama``, §1.3) and return its digits.

    Raises:
        InvalidIdentity: Not 9 digits.
    """
    d = normalize(text)
    if _DIGITS.fullmatch(d) is None or len(d) != _LEGACY_LENGTH:
        raise InvalidIdentity(
            "length",
            f"NIP lama {text.strip()!r} harus 9 digit angka (an old NIP must be 9 digits)",
        )
    return d


def normalize_local(text: str) -> str:
    """A local register number as stored: upper case, without spaces (dots and hyphens stay)."""
    return re.sub(r"\s+", "", text).upper()


def parse_local(text: str, *, pattern: str = DEFAULT_LOCAL_PATTERN) -> str:
    """Validate a NON_ASN local register number against ``pattern`` and return it normalized.

    A 16-digit number is refused even where the pattern allows it: that is a NIK, which is
    personal data and must never be a key or a display id (§1.4). So is an 18-digit number:
    its holder has a BKN number and is PPPK (paruh waktu) or PNS, not NON_ASN.

    Raises:
        InvalidIdentity: Naming ``local_format`` or ``employment_type``.
    """
    n = normalize_local(text)
    digits = normalize(n)
    if _DIGITS.fullmatch(digits) and len(digits) == _NIK_LENGTH:
        raise InvalidIdentity(
            "local_format",
            "nomor 16 digit tampak seperti NIK; NIK tidak boleh dipakai sebagai nomor pegawai "
            "(a 16-digit number looks like a NIK, which must not be used as a staff number)",
        )
    if _DIGITS.fullmatch(digits) and len(digits) == _NIP_LENGTH:
        raise InvalidIdentity(
            "employment_type",
            "nomor 18 digit adalah NIP/NI PPPK: jenis pegawai harus PNS, CPNS, PPPK atau PPPK "
            "paruh waktu, bukan Non-ASN (an 18-digit number is a NIP or NI PPPK: the employment "
            "type cannot be NON_ASN)",
        )
    if re.fullmatch(pattern, n) is None:
        raise InvalidIdentity(
            "local_format",
            f"nomor register {n!r} tidak sesuai format {pattern} "
            f"(register number does not match the local format)",
        )
    return n


def check_number(
    text: str,
    employment_type: EmploymentType,
    *,
    local_pattern: str = DEFAULT_LOCAL_PATTERN,
    today: date | None = None,
) -> CheckedNumber:
    """Validate the number a person of ``employment_type`` is identified by.

    PNS and CPNS need a NIP (PNS layout), PPPK and PPPK paruh waktu a NI PPPK, NON_ASN a local
    register number.

    Raises:
        InvalidIdentity: The number is malformed or of the wrong kind for the employment type.
    """
    want = employment_type.number_kind
    if want is NumberKind.LOCAL:
        return CheckedNumber(parse_local(text, pattern=local_pattern), NumberKind.LOCAL)
    parsed = parse_nip(text, today=today)
    if parsed.kind is not want:
        got = "NIP PNS" if parsed.kind is NumberKind.PNS else "NI PPPK"
        raise InvalidIdentity(
            "employment_type",
            f"jenis pegawai {employment_type.value} tidak cocok dengan nomor berformat {got} "
            f"(employment type {employment_type.value} does not match a {got} number)",
        )
    return CheckedNumber(parsed.number, parsed.kind, parsed.warnings)


def lookup_forms(text: str) -> list[str]:
    """The stored forms a typed number may have: local register form first, then bare digits.

    ``1986 0926…`` and ``PTT-2019-001`` are found whichever way they are typed; a register
    number made only of digits and dots (``2019.001``) is tried both with and without its dots.
    """
    forms = [normalize_local(text)]
    digits = normalize(text)
    if digits and _DIGITS.fullmatch(digits) and digits not in forms:
        forms.append(digits)
    return forms

"""What a monthly recap is made of: the month, the codes it counts, and one row of LB.1.

Shared by the statement (:mod:`central.attendance.recap_sql`), the rows built from its result
(:mod:`central.attendance.recap_rows`) and the recap itself (:mod:`central.attendance.recap`),
which re-exports every public name here.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, fields
from datetime import date, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: Western Indonesia Central Time (Asia/Makassar): UTC+8 all year, no daylight saving.
WITA = timezone(timedelta(hours=8), "WITA")
DL_CODES = ("DL", "DLD", "DIK", "WFH")
CUTI_CODES = ("CT", "CB", "CS", "CM", "CAP", "CLTN", "CBER")
IZIN_CODES = ("I", "IZ")
SAKIT_CODES = ("S",)
DEFAULT_MONTHLY_CAP = Decimal(100)
#: PP 94/2021 cumulative TK days per calendar year: (from, to, level). Warnings only.
PP94_THRESHOLDS: tuple[tuple[int, int | None, str], ...] = (
    (3, 3, "ringan"),
    (4, 6, "ringan"),
    (7, 10, "ringan"),
    (11, 13, "sedang"),
    (14, 16, "sedang"),
    (17, 20, "sedang"),
    (21, 24, "berat"),
    (25, 27, "berat"),
    (28, None, "berat"),
)
CONSECUTIVE_TK_ALERT = 10  # PP 94/2021 Pasal 11
MINUTES_PER_DAY = 450  # 7.5 h = one day of absence (Perba 6/2022, [UNCERTAIN] §3.4)
RUN_LOOKBACK_DAYS = 62  # a TK run reaching into the month is followed this far back
EMPLOYMENT_LABELS = {
    "PNS": "PNS",
    "CPNS": "CPNS",
    "PPPK": "PPPK",
    "PPPK_PW": "PPPK PW",
    "NON_ASN": "Non-ASN",
}
MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_MONTH = re.compile(r"^((?:19|20|21)\d\d)-(0[1-9]|1[0-2])$")
_CENT = Decimal("0.01")


class RecapError(ValueError):
    """A recap that cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str | Month) -> Month:
        """``2026-11`` to a :class:`Month`.

        Raises:
            RecapError: Not a ``YYYY-MM`` month.
        """
        if isinstance(text, Month):
            return text
        m = _MONTH.fullmatch(text.strip())
        if m is None:
            raise RecapError(f"bulan {text!r} tidak valid, pakai YYYY-MM (month must be YYYY-MM)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        """The first day."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive end)."""
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def label(self) -> str:
        """``November 2026``."""
        return f"{MONTHS_ID[self.month - 1]} {self.year}"


def pct(part: int, whole: int) -> Decimal | None:
    """``part / whole * 100`` to two decimals (half up); None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(_CENT, ROUND_HALF_UP)


@functools.lru_cache(maxsize=4096)
def pp94_warning(tk_ytd: int, year: int, employment_type: str) -> str:
    """The PP 94/2021 warning for ``tk_ytd`` TK days in ``year``: the level reached, the next.

    Args:
        tk_ytd: TK days this calendar year up to the end of the recap month.
        year: The calendar year.
        employment_type: ``person.employment_type``; outside PNS/CPNS the PNS thresholds are
            shown as a reference only (§3.4: PPPK discipline is [UNCERTAIN]).

    Returns:
        Empty for no TK; otherwise a short Bahasa text that never names a sanction.
    """
    if tk_ytd <= 0:
        return ""
    reached = [t for t in PP94_THRESHOLDS if tk_ytd >= t[0]]
    following = [t for t in PP94_THRESHOLDS if tk_ytd < t[0]]
    parts = [f"TK {year}: {tk_ytd} hari"]
    if reached:
        lo, hi, level = reached[-1]
        span = f"{lo}-{hi}" if hi is not None and hi != lo else (str(lo) if hi else f">={lo}")
        parts.append(f"ambang {level} PP 94/2021 ({span} hari)")
    if following:
        nxt = following[0][0]
        parts.append(f"ambang berikut {nxt} hari ({nxt - tk_ytd} hari lagi)")
    text = "; ".join(parts)
    if employment_type not in ("PNS", "CPNS"):
        text += " [acuan PNS]"
    return f"Peringatan: {text}"


# Not frozen: a frozen dataclass's __init__ sets each of the 32 fields through
# object.__setattr__, 0.04 s of a 0.35 s city-wide recap (bench/bench_recap.py). Rows are built
# once by recap_rows.build_rows and only read; what is signed is their canonical JSON.
@dataclass(slots=True)
class RecapRow:
    """One person's month in one unit (a row of LB.1). Minutes are whole minutes."""

    person_id: int
    number: str  # as displayed: 18 digits grouped 8-6-1-3, else as stored
    name: str
    status: str  # PNS / CPNS / PPPK / PPPK PW / Non-ASN
    unit_code: str
    unit_name: str
    hk: int
    h: int
    dl: int
    tl: tuple[int, int, int, int]
    tl_minutes: int
    psw: tuple[int, int, int, int]
    psw_minutes: int
    izin: int
    sakit: int
    cuti: int
    tk: int
    tk_ytd: int
    tk_run: int  # longest run of consecutive TK working days reaching into the month
    pct_hadir: Decimal | None  # H / HK * 100
    pct_hadir_dl: Decimal | None  # (H + DL/Tugas) / HK * 100
    potongan: Decimal  # sum of the daily deductions, capped
    potongan_raw: Decimal  # the same, uncapped
    outside_minutes: int
    pending: int
    corrected: int
    forgot_in: int
    forgot_out: int
    other: int  # scheduled days in no column (an unknown code): should be 0
    warning: str
    keterangan: str
    cuti_detail: dict[str, int] = field(default_factory=dict)

    @property
    def day_equivalent(self) -> Decimal:
        """TL + PSW minutes as days at 7.5 h (§3.4, [UNCERTAIN]: shown apart, labelled)."""
        return (Decimal(self.tl_minutes + self.psw_minutes) / MINUTES_PER_DAY).quantize(_CENT)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: decimals as strings with two places, tuples as lists."""
        out = {name: getattr(self, name) for name in _ROW_FIELDS}
        for name in _DECIMAL_FIELDS:
            value = out[name]
            out[name] = None if value is None else f"{value:.2f}"
        out["tl"], out["psw"] = list(self.tl), list(self.psw)
        out["cuti_detail"] = dict(sorted(self.cuti_detail.items()))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecapRow:
        """Back from :meth:`to_json` (a stored snapshot)."""
        kwargs = {name: data[name] for name in _ROW_FIELDS}
        for name in _DECIMAL_FIELDS:
            value = kwargs[name]
            kwargs[name] = None if value is None else Decimal(value)
        kwargs["tl"], kwargs["psw"] = tuple(kwargs["tl"]), tuple(kwargs["psw"])
        return cls(**kwargs)


_ROW_FIELDS = tuple(f.name for f in fields(RecapRow))
_DECIMAL_FIELDS = ("pct_hadir", "pct_hadir_dl", "potongan", "potongan_raw")


def canonical_json(obj: object) -> bytes:
    """Deterministic JSON bytes: the input of every recap checksum."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

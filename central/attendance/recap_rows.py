"""From the recap statement's result to :class:`RecapRow`s, and their canonical JSON.

Both run once per person and unit (11,000 times for a city-wide month), so they work on the
statement's plain tuples and cache what repeats (percentages, amounts, unpacked counts).

:func:`canonical_rows` writes the rows' part of the recap's canonical JSON directly: byte for
byte what :func:`central.attendance.recap_model.canonical_json` makes of
``[row.to_json() for row in rows]`` (keys sorted, no spaces, UTF-8), the input of every
checksum, so finalised snapshots keep matching. Strings go through :mod:`json`'s own encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from central.attendance.recap_model import (
    _CENT,
    CONSECUTIVE_TK_ALERT,
    CUTI_CODES,
    EMPLOYMENT_LABELS,
    RecapRow,
    canonical_json,
    pct,
    pp94_warning,
)
from central.attendance.recap_sql import PACK_BITS, PACKS, SUMS
from central.identity import format_nip

_MASK = (1 << PACK_BITS) - 1
_CUTI_PACKED = CUTI_CODES[:6]  # the codes of PACKS["p_cuti"]; the last one is in p_flags


def _unpacker(width: int) -> Any:
    # Unpacks ``width`` counts; one tuple per distinct value, shared by the rows that have it.
    cache: dict[int, tuple[int, ...]] = {}

    def unpack(value: int) -> tuple[int, ...]:
        counts = cache.get(value)
        if counts is None:
            counts = cache[value] = tuple((value >> (PACK_BITS * i)) & _MASK for i in range(width))
        return counts

    return unpack


def keterangan(
    *,
    tk_run: int,
    pending: int,
    corrected: int,
    forgot_in: int,
    forgot_out: int,
    other: int,
    cap: Decimal,
    raw: Decimal,
) -> str:
    """The notes column: long TK runs, pending days, corrections, a capped deduction."""
    notes: list[str] = []
    if tk_run >= CONSECUTIVE_TK_ALERT:
        notes.append(f"TK {tk_run} hari kerja berturut-turut (PP 94/2021 Pasal 11, peringatan)")
    elif tk_run >= 2:
        notes.append(f"TK berturut-turut terlama {tk_run} hari")
    if pending:
        notes.append(f"{pending} hari PENDING (belum final)")
    if corrected:
        notes.append(f"koreksi manual {corrected}x")
    if forgot_in or forgot_out:
        notes.append(f"lupa absen masuk {forgot_in}x, pulang {forgot_out}x")
    if raw > cap:
        notes.append(f"potongan dibatasi {cap:.2f}% (jumlah harian {raw:.2f}%)")
    if other:
        notes.append(f"{other} hari kerja dengan kode tak dikenal")
    return "; ".join(notes)


#: Where the counts and sums are in a result row: added up when a person and unit repeat.
_ADDED = slice(4, 4 + len(PACKS) + len(SUMS))


def merge(
    result: Iterable[Sequence[Any]],
) -> tuple[list[Sequence[Any]], tuple[str, ...], tuple[str, ...]]:
    """The statement's rows one per person and unit, and the rule-set and calendar versions.

    Rows of the same person and unit (days with and without a unit, or computed with two
    versions) are added up: packed counts too, as the days behind them are distinct, so a
    count stays at most 31.
    """
    rows: dict[tuple[int, int | None], Sequence[Any]] = {}
    versions: set[tuple[str, str]] = set()
    for row in result:
        versions.add((row[2], row[3]))
        key = (row[0], row[1])
        seen = rows.get(key)
        if seen is None:
            rows[key] = row
        else:
            added = [a + b for a, b in zip(seen[_ADDED], row[_ADDED], strict=True)]
            rows[key] = (*seen[: _ADDED.start], *added, *seen[_ADDED.stop :])
    return (
        list(rows.values()),
        tuple(sorted({v[0] for v in versions})),
        tuple(sorted({v[1] for v in versions})),
    )


def build_rows(result: Iterable[Sequence[Any]], year: int, cap: Decimal) -> list[RecapRow]:
    """The rows of :func:`merge` (columns :data:`central.attendance.recap_sql.COLUMNS`)."""
    unpack, unpack4 = _unpacker(6), _unpacker(4)
    pcts: dict[tuple[int, int], Decimal | None] = {}
    amounts: dict[int, tuple[Decimal, Decimal]] = {}
    capped = cap.quantize(_CENT)
    out: list[RecapRow] = []
    for (
        person_id,
        _unit,
        _ruleset,
        _calendar,
        p_sched,
        p_cuti,
        p_flags,
        p_tl,
        p_psw,
        tl_minutes,
        psw_minutes,
        outside_minutes,
        ded_cents,
        name,
        employment_type,
        unit_code,
        unit_name,
        tk_ytd,
        tk_run,
        number,
    ) in result:
        dl, h, izin, sakit, tk, pending_sched = unpack(p_sched)
        hk, pending, corrected, forgot_in, forgot_out, cber = unpack(p_flags)
        if p_cuti or cber:
            cuti_detail = {c: n for c, n in zip(_CUTI_PACKED, unpack(p_cuti), strict=False) if n}
            if cber:
                cuti_detail[CUTI_CODES[6]] = cber
            cuti = sum(cuti_detail.values())
        else:
            cuti_detail, cuti = {}, 0
        other = hk - (h + dl + izin + sakit + cuti + tk + pending_sched)
        key = (h, hk)
        if key not in pcts:
            pcts[key] = pct(h, hk)
        key_dl = (h + dl, hk)
        if key_dl not in pcts:
            pcts[key_dl] = pct(h + dl, hk)
        cents = int(ded_cents or 0)
        amount = amounts.get(cents)
        if amount is None:
            raw = Decimal(cents) / 100
            amount = amounts[cents] = (raw, raw.quantize(_CENT))
        raw, potongan_raw = amount
        nip = number or ""
        out.append(
            RecapRow(
                person_id=person_id,
                number=format_nip(nip) if nip.isdigit() else nip,
                name=name,
                status=EMPLOYMENT_LABELS.get(employment_type, employment_type),
                unit_code=unit_code or "",
                unit_name=unit_name or "",
                hk=hk,
                h=h,
                dl=dl,
                tl=unpack4(p_tl),
                tl_minutes=int(tl_minutes or 0),
                psw=unpack4(p_psw),
                psw_minutes=int(psw_minutes or 0),
                izin=izin,
                sakit=sakit,
                cuti=cuti,
                tk=tk,
                tk_ytd=tk_ytd,
                tk_run=tk_run,
                pct_hadir=pcts[key],
                pct_hadir_dl=pcts[key_dl],
                potongan=capped if raw > cap else potongan_raw,
                potongan_raw=potongan_raw,
                outside_minutes=int(outside_minutes or 0),
                pending=pending,
                corrected=corrected,
                forgot_in=forgot_in,
                forgot_out=forgot_out,
                other=other,
                warning=pp94_warning(tk_ytd, year, employment_type),
                keterangan=keterangan(
                    tk_run=tk_run,
                    pending=pending,
                    corrected=corrected,
                    forgot_in=forgot_in,
                    forgot_out=forgot_out,
                    other=other,
                    cap=cap,
                    raw=raw,
                )
                if tk_run >= 2
                or pending
                or corrected
                or forgot_in
                or forgot_out
                or other
                or raw > cap
                else "",
                cuti_detail=cuti_detail,
            )
        )
    return out


def _row_json(r: RecapRow, memo: dict[int, str], s: Any = encode_basestring) -> str:
    # The keys of RecapRow.to_json() in sorted order, each value as json.dumps writes it: a
    # new field of RecapRow must be added here too (canonical_rows checks the first row).
    # Amounts, percentages and TL/PSW tuples are mostly objects shared between rows (see
    # build_rows): written once each, remembered by identity for this call.
    texts = []
    for value in (r.pct_hadir, r.pct_hadir_dl, r.potongan, r.potongan_raw, r.psw, r.tl):
        text = memo.get(id(value))
        if text is None:
            if value is None:
                text = "null"
            elif isinstance(value, tuple):
                text = "[" + ",".join([str(v) for v in value]) + "]"
            else:
                text = f'"{value:.2f}"'
            memo[id(value)] = text
        texts.append(text)
    pct_hadir, pct_hadir_dl, potongan, potongan_raw, psw, tl = texts
    detail = r.cuti_detail
    cuti_detail = (
        "{" + ",".join([f"{s(k)}:{detail[k]}" for k in sorted(detail)]) + "}" if detail else "{}"
    )
    return (
        f'{{"corrected":{r.corrected},"cuti":{r.cuti},"cuti_detail":{cuti_detail},'
        f'"dl":{r.dl},"forgot_in":{r.forgot_in},"forgot_out":{r.forgot_out},"h":{r.h},'
        f'"hk":{r.hk},"izin":{r.izin},"keterangan":{s(r.keterangan)},"name":{s(r.name)},'
        f'"number":{s(r.number)},"other":{r.other},"outside_minutes":{r.outside_minutes},'
        f'"pct_hadir":{pct_hadir},"pct_hadir_dl":{pct_hadir_dl},'
        f'"pending":{r.pending},"person_id":{r.person_id},"potongan":{potongan},'
        f'"potongan_raw":{potongan_raw},"psw":{psw},'
        f'"psw_minutes":{r.psw_minutes},"sakit":{r.sakit},"status":{s(r.status)},'
        f'"tk":{r.tk},"tk_run":{r.tk_run},"tk_ytd":{r.tk_ytd},"tl":{tl},'
        f'"tl_minutes":{r.tl_minutes},"unit_code":{s(r.unit_code)},'
        f'"unit_name":{s(r.unit_name)},"warning":{s(r.warning)}}}'
    )


def canonical_rows(rows: list[RecapRow]) -> str:
    """The canonical JSON of ``[row.to_json() for row in rows]`` (see the module docstring).

    Raises:
        RuntimeError: The first row comes out other than from the generic encoder (a field
            of :class:`RecapRow` that :func:`_row_json` does not know): a checksum must never
            change silently.
    """
    memo: dict[int, str] = {}  # by id(): the rows keep every object alive meanwhile
    parts = [_row_json(r, memo) for r in rows]
    if rows and parts[0] != canonical_json(rows[0].to_json()).decode():
        raise RuntimeError("recap_rows._row_json is out of step with RecapRow.to_json")
    return "[" + ",".join(parts) + "]"

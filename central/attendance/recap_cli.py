"""``hadir-central recap``: export, snapshot, finalise and verify the monthly recap.

Wired into :mod:`central.cli` by two lines: ``add_recap_commands(sub)`` in its parser and
``"recap": recap_command`` in its command table. Examples::

    hadir-central --config central.toml recap --month 2026-11 --unit BKPPD --format pdf --out r.pdf
    hadir-central --config central.toml recap snapshot --month 2026-11 --unit BKPPD
    hadir-central --config central.toml recap finalize --month 2026-11 --unit BKPPD --by "Ani"
    hadir-central --config central.toml recap verify --month 2026-11 --unit BKPPD
    hadir-central --config central.toml recap check --month 2026-11     # totals against days
    hadir-central --config central.toml recap rebuild --month 2026-11   # totals from the days

Exit codes: 0 done; 1 error (printed by ``central.cli``); 3 a finalised month whose data now
computes differently (the export still carries the signed snapshot, and says so), or monthly
totals that differ from the days (``check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from central import registry
from central.attendance import export, recap, recap_month

EXIT_DRIFT = 3
ACTIONS = ("export", "snapshot", "finalize", "verify", "check", "rebuild")


def _cap(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"the cap must be 0 or more: {text!r}")
    return value


def add_recap_commands(subparsers: Any) -> None:
    """Add ``recap`` to ``hadir-central``'s sub-command parsers (``add_subparsers()``)."""
    p = subparsers.add_parser(
        "recap",
        help="monthly recap: LB.1 per unit, LB.2 per person (CSV, XLSX, PDF); finalise",
        epilog="Example: hadir-central --config central.toml recap --month 2026-11 "
        "--unit BKPPD --format xlsx --out rekap-2026-11-BKPPD.xlsx",
    )
    p.add_argument("action", nargs="?", choices=ACTIONS, default="export")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--unit", help="unit code or name (export: default every unit)")
    p.add_argument("--person", help="LB.2 of one person: a NIP / NI PPPK / register number")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "xlsx", "pdf", "json"),
        help="default: from --out's extension, else csv",
    )
    p.add_argument("--out", help="file to write; csv and json go to stdout without it")
    p.add_argument("--by", help="finalize: who finalises (recorded)")
    p.add_argument("--checksum", help="finalize: refuse unless the month still has this checksum")
    p.add_argument("--monthly-cap", type=_cap, help="override the rule sets' monthly cap (%%)")
    p.add_argument("--kepala", default="", help="signature block: name of the head of the unit")
    p.add_argument("--kepala-nip", default="", help="signature block: the head's NIP")
    p.add_argument("--operator", default="", help="signature block: who made the recap")


def _unit(conn: Connection, key: str | None) -> int:
    if not key:
        raise recap.RecapError("--unit wajib untuk perintah ini (--unit is required here)")
    found = registry.find_unit(conn, key)
    if found is None:
        raise recap.RecapError(f"unit {key!r} tidak ada (no such unit)")
    return found.id


def _person(conn: Connection, key: str) -> int:
    found = registry.find_person(conn, key)
    if found is None:
        raise recap.RecapError(f"pegawai {key!r} tidak ditemukan (no such person)")
    return found.id


def _format(args: argparse.Namespace) -> str:
    if args.fmt:
        return str(args.fmt)
    suffix = Path(args.out).suffix.lower().lstrip(".") if args.out else ""
    return suffix if suffix in ("csv", "xlsx", "pdf", "json") else "csv"


def _write(args: argparse.Namespace, fmt: str, data: bytes) -> None:
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"{args.out}: {len(data)} bytes ({fmt})", file=sys.stderr)
    elif fmt in ("csv", "json"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        raise recap.RecapError(f"format {fmt} perlu --out FILE ({fmt} needs --out FILE)")


def _export(args: argparse.Namespace, engine: Engine) -> int:
    fmt = _format(args)
    signers = {"head_name": args.kepala, "head_nip": args.kepala_nip, "operator": args.operator}
    with engine.connect() as conn:
        if args.person:
            pr = recap.person_recap(conn, args.month, _person(conn, args.person))
            drift = "; ".join(pr.drift)
            doc = export.lb2_document(pr, **signers)
            body: dict[str, Any] = {"rows": [r.to_json() for r in pr.rows], "drift": pr.drift}
        else:
            unit_id = _unit(conn, args.unit) if args.unit else None
            result = recap.load(conn, args.month, unit_id, monthly_cap=args.monthly_cap)
            drift = result.drift or ""
            doc = export.lb1_document(result, **signers)
            body = result.to_json()
    if fmt == "json":
        data = json.dumps(body, ensure_ascii=False, indent=1).encode() + b"\n"
    else:
        data = export.render(doc, fmt)
    _write(args, fmt, data)
    if drift:
        print(f"warning: {drift}", file=sys.stderr)
        return EXIT_DRIFT
    return 0


def _summary(result: recap.Recap, as_json: bool) -> None:
    state = "final" if result.finalized_at else "draft"
    if as_json:
        keys = ("month", "unit_code", "checksum", "run_id", "finalized_by", "drift")
        print(json.dumps({k: v for k, v in result.to_json().items() if k in keys}))
        return
    who = f" by {result.finalized_by}" if result.finalized_by else ""
    print(
        f"recap {result.month} {result.unit_code}: {len(result.rows)} people, {state}{who}, "
        f"run {result.run_id}, checksum {result.checksum}"
    )


def _totals(args: argparse.Namespace, engine: Engine) -> int:
    # The monthly totals the recap reads, against the days they are kept from.
    with engine.begin() as conn:
        unit_id = _unit(conn, args.unit) if args.unit else None
        if args.action == "rebuild":
            if unit_id is not None:
                raise recap.RecapError(
                    "rebuild membangun ulang satu bulan penuh, tanpa --unit "
                    "(rebuild works on the whole month: leave out --unit)"
                )
            written = recap_month.rebuild(conn, args.month)
            print(f"totals {args.month}: rebuilt from the daily status ({written} rows)")
            return 0
        wrong = recap_month.differences(conn, args.month, unit_id)
    where = f" {args.unit}" if args.unit else ""
    if not wrong:
        print(f"totals {args.month}{where}: match the daily status")
        return 0
    for line in wrong:
        print(line)
    print(
        f"warning: totals {args.month}{where} differ from the daily status in {len(wrong)} "
        f"places; 'recap rebuild --month {args.month}' recomputes them",
        file=sys.stderr,
    )
    return EXIT_DRIFT


def recap_command(args: argparse.Namespace, engine: Engine) -> int:
    """Run ``recap ACTION`` for ``central.cli`` (returns the exit code).

    Raises:
        central.attendance.recap.RecapError: Bad month or unit, or a refused finalisation;
            ``central.cli`` prints it as ``hadir-central: error: ...``.
    """
    recap.Month.parse(args.month)
    as_json = bool(getattr(args, "json", False))
    if args.action == "export":
        return _export(args, engine)
    if args.action in ("check", "rebuild"):
        return _totals(args, engine)
    if args.action == "verify":
        with engine.connect() as conn:
            unit_id = _unit(conn, args.unit)
            result = recap.load(conn, args.month, unit_id, monthly_cap=args.monthly_cap)
        _summary(result, as_json)
        if result.drift:
            print(f"warning: {result.drift}", file=sys.stderr)
            return EXIT_DRIFT
        return 0
    with engine.begin() as conn:
        unit_id = _unit(conn, args.unit)
        if args.action == "snapshot":
            result = recap.snapshot(conn, args.month, unit_id, monthly_cap=args.monthly_cap)
        else:
            if not args.by:
                raise recap.RecapError("--by wajib untuk finalize (who finalises is required)")
            result = recap.finalize(
                conn,
                args.month,
                unit_id,
                args.by,
                checksum=args.checksum,
                monthly_cap=args.monthly_cap,
            )
    _summary(result, as_json)
    return 0

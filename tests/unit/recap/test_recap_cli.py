"""``hadir-central recap``: the sub-command as central.cli will wire it, on both backends."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import update

from central.attendance.recap import RecapError
from central.attendance.recap_cli import EXIT_DRIFT, add_recap_commands, recap_command
from central.schema.attendance import daily_status
from tests.unit.recap import MONTH, NIP_A, World, d, open_world


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    yield from open_world(db_url)


def run(world: World, *argv: str) -> int:
    """Parse like ``central.cli`` (global ``--json``, then the sub-command) and run."""
    parser = argparse.ArgumentParser(prog="hadir-central")
    parser.add_argument("--json", action="store_true")
    add_recap_commands(parser.add_subparsers(dest="cmd", required=True))
    return recap_command(parser.parse_args(argv), world.engine)


def test_export_every_format(
    world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    for fmt in ("csv", "xlsx", "pdf"):
        out = tmp_path / f"r.{fmt}"
        args = ("recap", "--month", MONTH, "--unit", "BKPPD", "--out", str(out))
        assert run(world, *args, "--kepala", "Drs. Kepala") == 0
        assert out.stat().st_size > 0
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbfNo;NIP / NI PPPK")
    ws = load_workbook(tmp_path / "r.xlsx")["LB.1"]
    assert ws["C6"].value == "Andi Saputra, S.Kom."
    assert "Drs. Kepala" in PdfReader(tmp_path / "r.pdf").pages[0].extract_text()
    capsysbinary.readouterr()
    assert run(world, "recap", "--month", MONTH, "--unit", "BKPPD", "--format", "json") == 0
    body = json.loads(capsysbinary.readouterr().out)
    assert body["rows"][0]["hk"] == 20 and body["finalized"] is False
    assert run(world, "recap", "--month", MONTH, "--format", "csv") == 0  # every unit, stdout
    lines = capsysbinary.readouterr().out.decode("utf-8-sig").splitlines()
    assert len(lines) == 7


def test_lb2_of_a_person(world: World, tmp_path: Path) -> None:
    out = tmp_path / "andi.xlsx"
    assert run(world, "recap", "--month", MONTH, "--person", NIP_A, "--out", str(out)) == 0
    wb = load_workbook(io.BytesIO(out.read_bytes()))
    assert wb.sheetnames == ["LB.2", "Ringkasan"]
    with pytest.raises(RecapError, match="no such person"):
        run(world, "recap", "--month", MONTH, "--person", "199901012020011001")


def test_snapshot_finalize_verify(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(world, "--json", "recap", "snapshot", "--month", MONTH, "--unit", "BKPPD") == 0
    draft = json.loads(capsys.readouterr().out)
    assert draft["run_id"] == 1 and draft["finalized_by"] is None
    with pytest.raises(RecapError, match="--by"):
        run(world, "recap", "finalize", "--month", MONTH, "--unit", "BKPPD")
    argv = ("recap", "finalize", "--month", MONTH, "--unit", "BKPPD", "--by", "Ani")
    assert run(world, *argv, "--checksum", draft["checksum"]) == 0
    assert f"final by Ani, run 1, checksum {draft['checksum']}" in capsys.readouterr().out
    assert run(world, "recap", "verify", "--month", MONTH, "--unit", "BKPPD") == 0
    with world.engine.begin() as conn:
        conn.execute(
            update(daily_status)
            .where(daily_status.c.person_id == world.citra, daily_status.c.work_date == d(30))
            .values(status="TK")
        )
    assert run(world, "recap", "verify", "--month", MONTH, "--unit", "BKPPD") == EXIT_DRIFT
    assert "finalised month differs (checksum" in capsys.readouterr().err
    out = tmp_path / "r.pdf"
    argv = ("recap", "--month", MONTH, "--unit", "BKPPD", "--out", str(out))
    assert run(world, *argv) == EXIT_DRIFT  # still written: the signed snapshot
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "PERHATIAN" in text and "Status: FINAL" in text


def test_usage_errors(world: World) -> None:
    with pytest.raises(RecapError, match="YYYY-MM"):
        run(world, "recap", "--month", "2026-13", "--unit", "BKPPD")
    with pytest.raises(RecapError, match="no such unit"):
        run(world, "recap", "snapshot", "--month", MONTH, "--unit", "NOPE")
    with pytest.raises(RecapError, match="--unit is required"):
        run(world, "recap", "verify", "--month", MONTH)
    with pytest.raises(RecapError, match="needs --out"):
        run(world, "recap", "--month", MONTH, "--format", "pdf")
    with pytest.raises(SystemExit):
        run(world, "recap", "--month", MONTH, "--monthly-cap", "-1")

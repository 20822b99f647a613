"""hadir-sim and hadir-sensor as a tester uses them: two processes, one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sensor.sim.cli import main as sim_main

PY = sys.executable


def sim_cmd(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "edge.sensor.sim", "--dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Path]:
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "edge.sensor.sim",
            "--dir",
            str(tmp_path),
            "run",
            "--timing",
            "instant",
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("device: "), first + (proc.stderr.read() if proc.stderr else "")
    assert first.strip() == f"device: {tmp_path / 'ttyR307'}"
    deadline = time.monotonic() + 10
    while not (tmp_path / "control.sock").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield tmp_path
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_sim_cli_place_and_identify_from_a_second_terminal(running: Path) -> None:
    port = str(running / "ttyR307")
    tool = [PY, "-m", "edge.sensortool"]
    cmd = [*tool, "enroll", port, "7"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as enroll:
        assert enroll.stdout is not None
        # Answer each prompt the way a person does, from the second terminal.
        for line in enroll.stdout:
            if "Place" in line:
                assert sim_cmd(running, "place", "alice").returncode == 0
            elif "Lift" in line:
                assert sim_cmd(running, "lift").returncode == 0
            elif line.startswith("slot 7"):
                break
        assert enroll.wait(timeout=30) == 0
    listing = sim_cmd(running, "list")
    assert "slot    7  alice" in listing.stdout
    ident = subprocess.Popen(
        [*tool, "identify", port, "--count", "1", "--timeout", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert ident.stdout is not None
    assert "Waiting" in ident.stdout.readline()
    assert sim_cmd(running, "press", "alice", "--hold", "0.5").returncode == 0
    out, _ = ident.communicate(timeout=30)
    assert "Identified: slot 7" in out
    assert ident.returncode == 0


def test_sim_cli_faults_and_status(running: Path) -> None:
    assert sim_cmd(running, "fault", "bad-checksum", "--count", "2").returncode == 0
    assert sim_cmd(running, "fault", "slow").returncode == 0
    status = json.loads(sim_cmd(running, "--json", "status").stdout)
    assert status["faults"] == ["bad-checksum", "bad-checksum", "slow"]
    assert status["capacity"] == 1000
    assert sim_cmd(running, "clear").returncode == 0
    assert sim_cmd(running, "unplug").returncode == 0
    assert not os.path.exists(running / "ttyR307")
    assert sim_cmd(running, "replug").returncode == 0
    assert os.path.exists(running / "ttyR307")


def test_sim_cli_bad_requests_get_clear_errors(running: Path) -> None:
    bad = sim_cmd(running, "fault", "nonsense")
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr
    rate = sim_cmd(running, "poor-rate", "1.5")
    assert rate.returncode == 1
    assert "poor rate must be between 0 and 1, got 1.5" in rate.stderr


def test_sim_cli_without_a_running_simulator_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sim_main(["--dir", str(tmp_path), "place", "alice"]) == 1
    assert "no simulator is running" in capsys.readouterr().err

"""The fault proof in its short form (CI); the long form: ``scripts/fault-proof --minutes 5``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.faultproof import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_fault_proof_short_form(tmp_path: Path) -> None:
    minutes = float(os.environ.get("HADIR_FAULT_PROOF_MINUTES", "1"))
    result = run(tmp_path, minutes, seed=7)
    print("\n" + result.table())
    assert result.problems == []
    assert (result.lost, result.doubled, result.gaps) == (0, 0, 0)
    assert result.punches > 20  # the stream really ran
    assert result.signalled_ok <= result.punches
    kills = result.broker_kills + result.collector_kills + result.daemon_kills + result.module_flaps
    assert kills >= 8

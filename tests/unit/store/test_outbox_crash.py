"""Outbox under kill -9: the sequence stays gap-free and no returned append is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from edge.store import Store

REPO = Path(__file__).resolve().parents[3]

# The child appends as fast as it can and prints "seq id" only after append() returned, so every
# line the parent reads is a punch the person would have been told "OK" for.
APPENDER = """
import sys
from datetime import UTC, datetime
from edge.store import Store

store = Store(sys.argv[1])
n = 0
while True:
    punch = store.outbox.append(
        person_id=f"person-{n % 7}", slot=n % 7, score=50, at=datetime.now(UTC),
        clock_synced=True, boot_id="crash-test", mono_ns=n,
    )
    sys.stdout.write(f"{punch.seq} {punch.id}\\n")
    sys.stdout.flush()
    n += 1
"""

KILLS = 10
# How long after the last line read to kill, so the signal lands anywhere in an append (building
# the statement, waiting on fsync, committing), not always at the same instruction.
MAX_KILL_DELAY_S = 0.003


def _run_and_kill(db_path: Path, lines_before_kill: int, delay_s: float) -> dict[int, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    try:
        while len(lines) < lines_before_kill:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line)
        # The child is somewhere inside its next append (or still starting up): kill it there.
        time.sleep(delay_s)
        child.send_signal(signal.SIGKILL)
        child.wait()
        # Lines printed after the last one we read are still in the pipe: those appends
        # returned too. A line cut short by the kill has no newline and proves nothing.
        lines.extend(child.stdout.read().splitlines(keepends=True))
        stderr = child.stderr.read() if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL, f"appender died on its own:\n{stderr}"
    returned: dict[int, str] = {}
    for line in lines:
        if line.endswith("\n"):
            seq, punch_id = line.split()
            returned[int(seq)] = punch_id
    return returned


def test_outbox_kill_9_leaves_gap_free_sequence_and_loses_nothing(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    db_path = tmp_path / "edge.db"
    returned: dict[int, str] = {}
    # The first kill lands while the child may still be creating the file and migrating it.
    plan = [(0, 0.0)] + [
        (rng.randint(1, 30), rng.uniform(0, MAX_KILL_DELAY_S)) for _ in range(KILLS - 1)
    ]
    for lines_before_kill, delay_s in plan:
        returned.update(_run_and_kill(db_path, lines_before_kill, delay_s))

    with Store(db_path) as store:
        last = store.outbox.last_seq()
        stored: dict[int, str] = {p.seq: p.id for p in store.outbox.pending(limit=10_000)}
        after_crashes = store.outbox.append(
            person_id="after",
            slot=0,
            score=1,
            at=datetime.now(UTC),
            clock_synced=False,
            boot_id="after",
            mono_ns=0,
        )

    context = f"seed={seed} plan={plan}"
    assert sorted(stored) == list(range(1, last + 1)), context
    assert all(stored.get(seq) == punch_id for seq, punch_id in returned.items()), context
    # At most one append per kill may have committed without the child living to print it.
    assert len(returned) <= last <= len(returned) + KILLS, context
    assert after_crashes.seq == last + 1, context

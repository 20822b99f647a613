"""Outbox benchmark: what ``Outbox.append`` costs next to a bare sqlite3 insert + commit.

Run from the repository root with the project's virtualenv active::

    python bench/bench_outbox.py                    # 1000 of each, files under ./
    python bench/bench_outbox.py --n 300 --dir /var/lib/hadir   # on the Pi's data disk

Both sides write to files in the same directory, so the same disk and file system: pass
``--dir`` to measure where the daemon keeps its store. Do not point it at a tmpfs (``/tmp`` on
many Pi images): fsync is free there and the numbers mean nothing.

* **bare**: Python's sqlite3, WAL, ``synchronous=FULL``; per punch ``BEGIN IMMEDIATE``, one
  ``INSERT`` of a punch-shaped row, ``COMMIT``. The floor any durable store pays.
* **Outbox.append**: the real store (SQLAlchemy Core, pooled connection, the seq counter bump and
  the insert in one immediate transaction, validation, the returned dataclass).

The two run interleaved in blocks of 50 so drift in the disk (write-back, other load) hits both
alike. Timings are wall clock (``perf_counter_ns``) around one call, commit included.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from edge.store import Store

BLOCK = 50
WARMUP = 20

_BARE_SCHEMA = """CREATE TABLE punch (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, person_id TEXT NOT NULL,
    slot INTEGER NOT NULL, score INTEGER NOT NULL, at_us INTEGER NOT NULL,
    clock_synced INTEGER NOT NULL, boot_id TEXT NOT NULL, mono_ns INTEGER NOT NULL,
    acked_at_us INTEGER)"""
_BARE_INSERT = (
    "INSERT INTO punch (id, person_id, slot, score, at_us, clock_synced, boot_id, mono_ns)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _bare(path: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(_BARE_SCHEMA)

    def one(n: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            _BARE_INSERT,
            (str(uuid.uuid4()), f"person-{n % 50}", n % 50, 60, time.time_ns() // 1000, 1, "b", n),
        )
        conn.execute("COMMIT")

    return one, conn.close


def _outbox(path: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
    store = Store(path)

    def one(n: int) -> None:
        store.outbox.append(
            person_id=f"person-{n % 50}",
            slot=n % 50,
            score=60,
            at=datetime.now(UTC),
            clock_synced=True,
            boot_id="b",
            mono_ns=n,
        )

    return one, store.close


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="calls per side (default 1000)")
    parser.add_argument("--dir", type=Path, default=Path(), help="where the two files go")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix=".bench-outbox-", dir=args.dir))
    sides = {"bare sqlite3 insert+commit": _bare, "Outbox.append": _outbox}
    runners = {name: make(workdir / f"{i}.db") for i, (name, make) in enumerate(sides.items())}
    times_ms: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for one, _ in runners.values():
            for n in range(WARMUP):
                one(n)
        done = 0
        while done < args.n:
            block = min(BLOCK, args.n - done)
            # Alternate which side goes first, so neither always follows the other's fsync.
            order = list(runners.items())
            if (done // BLOCK) % 2:
                order.reverse()
            for name, (one, _) in order:
                for n in range(done, done + block):
                    start = time.perf_counter_ns()
                    one(n)
                    times_ms[name].append((time.perf_counter_ns() - start) / 1e6)
            done += block
    finally:
        for _, close in runners.values():
            close()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"outbox append vs bare sqlite3 (WAL, synchronous=FULL), dir={args.dir.resolve()}")
    print(f"{'method':<28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}")
    for name, samples in times_ms.items():
        print(
            f"{name:<28} {len(samples):>6} {_percentile(samples, 0.50):>8.3f} "
            f"{_percentile(samples, 0.99):>8.3f} {statistics.fmean(samples):>8.3f} "
            f"{max(samples):>8.3f}"
        )
    bare, ours = (times_ms[name] for name in sides)
    ratio = _percentile(ours, 0.50) / _percentile(bare, 0.50)
    print(f"Outbox.append p50 is {ratio:.2f}x the bare insert+commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Recap benchmark (issue 5): a month's recap of 11,000 people in SQL, against a per-person loop.

Run from the repository root with the project's virtualenv active::

    python bench/bench_recap.py            # 11,000 people, about 3 minutes on 2 cores
    python bench/bench_recap.py --quick    # 2,000 people, under a minute

Per backend (a SQLite file under ``--dir``, and a fresh database on the PostgreSQL server at
``--pg``; without a reachable server its rows are left out):

* **Data.** ``PEOPLE`` people in 44 units, one current number each, and one ``daily_status``
  row per person per day of November 2026 (30 days: weekends OFF, the 20th a holiday), drawn
  from a seeded mix: on time, TL and PSW in every band (some "forgot" TL4/PSW4), DL and DIK,
  cuti codes, I and S, TK (1 % of people absent from the 2nd to the 19th, a long TK run),
  corrections and outside minutes. SQLite is filled with executemany, PostgreSQL with COPY;
  both are ANALYZEd.
* **SQL**: :func:`central.attendance.recap.compute` for every unit at once (one statement,
  11,000 rows back), and LB.1 unit by unit (44 statements).
* **Loop**: the baseline the issue names. One query for the people; then per person one query
  for their current number and one for their days (the month and the run look-back), counted
  in Python: the same columns, TK year-to-date and the longest TK run.
* Each variant runs in its own child process (``spawn``). Each run makes a new engine and
  connects, then the clock runs over the recap (or the loop) alone; "with engine + digest"
  also counts making the engine, connecting and the bench's digest of the result (see
  ``_once``). "peak RSS" is the child's peak resident set (``VmHWM``) at the end, and "idle
  RSS" that of a child that only imports and connects. "py peak" is tracemalloc's peak over
  one more run in the same child (not timed: tracing slows Python down). SQL times are the median of
  ``REPEAT`` runs; the loop runs once.
* The SQL and loop results are reduced to a sha256 of the per-person counts; the table says
  whether they agree.
* **Write**: what the triggers that keep ``daily_status_month`` cost the daily computation's
  upsert, with and without them (``_write_child``).

Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.freshdb import fresh_db
from central.attendance import daily, recap
from central.db import make_engine
from central.identity import format_nip
from central.schema.attendance import daily_status
from central.schema.registry import person, person_number, unit

MONTH = recap.Month(2026, 11)
HOLIDAY = date(2026, 11, 20)
UNITS = 44
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
SPAWN = mp.get_context("spawn")
COLUMNS = [c.name for c in daily_status.columns]
BANDS = ((30, "1", Decimal("0.5")), (60, "2", Decimal(1)), (90, "3", Decimal("1.25")))


def band(minutes: int) -> tuple[str, Decimal]:
    for upper, k, rate in BANDS:
        if minutes <= upper:
            return k, rate
    return "4", Decimal("1.5")


def day_values(rng: random.Random, pid: int, uid: int, day: date, absent: bool) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(person_id=pid, work_date=day, unit_id=uid, ruleset_version="rs-bench")
    row.update(calendar_version="cal-bench", computed_at=NOW, note="", code=None)
    row.update(late_minutes=0, early_minutes=0, outside_minutes=0, deduction_pct=Decimal(0))
    row.update(forgot_in=False, forgot_out=False, corrected=False, scheduled=True)
    if day.weekday() >= 5 or day == HOLIDAY:
        row.update(status="OFF" if day.weekday() >= 5 else "LIBUR", scheduled=False)
        return row
    r = rng.random()
    if absent and day.day < 20:
        r = 0.95
    row["status"] = "HADIR"
    if r < 0.70:
        pass
    elif r < 0.85:
        late = rng.random() < 0.6 or r >= 0.83
        early = not late or r >= 0.83
        if late:
            forgot = rng.random() < 0.05
            minutes = 0 if forgot else rng.randint(1, 150)
            k, rate = ("4", Decimal("1.5")) if forgot else band(minutes)
            row.update(late_minutes=minutes, tl=f"TL{k}", forgot_in=forgot)
            row["deduction_pct"] += rate
        if early:
            forgot = rng.random() < 0.05
            minutes = 0 if forgot else rng.randint(1, 150)
            k, rate = ("4", Decimal("1.5")) if forgot else band(minutes)
            row.update(early_minutes=minutes, psw=f"PSW{k}", forgot_out=forgot)
            row["deduction_pct"] += rate
    elif r < 0.87:
        row.update(code="DL") if r < 0.86 else row.update(status="ABSEN", code="DIK")
    elif r < 0.91:
        row.update(status="ABSEN", code=rng.choice(("CT", "CT", "CS", "CAP", "CB", "CM")))
    elif r < 0.93:
        row.update(status="ABSEN", code=rng.choice(("I", "S")))
    elif r < 0.97:
        row.update(status="TK", deduction_pct=Decimal(5))
    else:
        row.update(corrected=True, in_source="manual", outside_minutes=rng.randint(5, 120))
    return row


def generate(url: str, people: int) -> float:
    """Fill the database; returns the seconds it took."""
    t0 = time.perf_counter()
    engine = make_engine(url)
    rng = random.Random(5)
    with engine.begin() as conn:
        conn.execute(
            insert(unit),
            [
                {"code": f"U{u:02d}", "name": f"Unit {u:02d}", "created_at": NOW}
                for u in range(UNITS)
            ],
        )
        units = [r.id for r in conn.execute(select(unit.c.id).order_by(unit.c.id))]
        persons = [
            {"name": f"Pegawai {i:05d}", "employment_type": ("PNS", "PPPK", "NON_ASN")[i % 3]}
            | {"unit_id": units[i % UNITS], "created_at": NOW, "updated_at": NOW}
            for i in range(people)
        ]
        conn.execute(insert(person), persons)
        ids = [(r.id, r.unit_id) for r in conn.execute(select(person.c.id, person.c.unit_id))]
        conn.execute(
            insert(person_number),
            [
                {"person_id": pid, "number": str(198_000_000_000_000_000 + pid), "kind": "PNS"}
                | {"valid_from": NOW - timedelta(days=400)}
                for pid, _ in ids
            ],
        )
        days = [MONTH.start + timedelta(days=n) for n in range(30)]
        rows = [day_values(rng, pid, uid, day, pid % 100 == 7) for pid, uid in ids for day in days]
        if url.startswith("sqlite"):
            for i in range(0, len(rows), 20_000):
                conn.execute(insert(daily_status), rows[i : i + 20_000])
            conn.execute(text("ANALYZE"))
        else:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY daily_status ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in COLUMNS])
    if not url.startswith("sqlite"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - t0


def summary(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:16]


def run_sql(conn: Connection, per_unit: bool) -> list[recap.RecapRow]:
    if per_unit:
        uids = [r.id for r in conn.execute(select(unit.c.id))]
        return [r for u in uids for r in recap.compute(conn, MONTH, u, now=NOW).rows]
    return recap.compute(conn, MONTH, None, now=NOW).rows


def as_tuples(rows: list[Any]) -> list[tuple[Any, ...]]:
    """The recap's rows in the loop's form (the loop's own rows pass through), for the digest."""
    return [
        (
            *(r.person_id, r.unit_code, r.hk, r.h, r.dl, *r.tl, r.tl_minutes, *r.psw),
            *(r.psw_minutes, r.izin, r.sakit, r.cuti, r.tk, r.tk_ytd, r.tk_run),
            *(f"{r.potongan:.2f}", r.outside_minutes, r.corrected, r.number),
        )
        if isinstance(r, recap.RecapRow)
        else r
        for r in rows
    ]


def run_loop(conn: Connection) -> list[tuple[Any, ...]]:
    """The per-person baseline: fetch each person's days and count them in Python."""
    ds, pn = daily_status, person_number
    at = datetime.combine(MONTH.end, datetime.min.time(), recap.WITA).astimezone(UTC)
    run_from = MONTH.start - timedelta(days=recap.RUN_LOOKBACK_DAYS)
    first = min(date(MONTH.year, 1, 1), run_from)
    out: list[tuple[Any, ...]] = []
    codes = dict(conn.execute(select(unit.c.id, unit.c.code)).all())
    people = conn.execute(select(person.c.id, person.c.unit_id).order_by(person.c.id)).all()
    for pid, home in people:
        numbers = conn.execute(
            select(pn.c.number, pn.c.valid_from, pn.c.valid_to).where(
                pn.c.person_id == pid, pn.c.kind != "LEGACY"
            )
        ).all()
        valid = [n for n in numbers if n[1] < at and (n[2] is None or n[2] >= at)]
        number = max(valid or numbers, key=lambda n: n[1])[0] if numbers else ""
        days = conn.execute(
            select(ds)
            .where(ds.c.person_id == pid, ds.c.work_date >= first)
            .where(ds.c.work_date < MONTH.end)
            .order_by(ds.c.work_date)
        ).all()
        ytd = sum(
            1 for d in days if d.status == "TK" and d.scheduled and d.work_date.year == MONTH.year
        )
        best = run = 0
        last = MONTH.start
        for d in days:
            if not d.scheduled or d.work_date < run_from:
                continue
            if d.status == "TK":
                run, last = run + 1, d.work_date
                continue
            if run and last >= MONTH.start:
                best = max(best, run)
            run = 0
        if run and last >= MONTH.start:
            best = max(best, run)
        per_unit: dict[int, Counter] = defaultdict(Counter)
        for d in days:
            if d.work_date >= MONTH.start:
                per_unit[d.unit_id or home].add(d)
        for uid, c in per_unit.items():
            cap = min(Decimal(c.cents) / 100, Decimal(100))
            fmt = format_nip(number) if number.isdigit() else number
            out.append(
                (
                    *(pid, codes[uid], c.hk, c.h, c.dl, *c.tl, c.tl_min, *c.psw, c.psw_min),
                    *(c.izin, c.sakit, c.cuti, c.tk, ytd, best, f"{cap:.2f}", c.outside),
                    *(c.corrected, fmt),
                )
            )
    return out


class Counter:
    """One person-unit's month, counted in Python."""

    def __init__(self) -> None:
        self.hk = self.h = self.dl = self.izin = self.sakit = self.cuti = self.tk = 0
        self.tl, self.psw = [0] * 4, [0] * 4
        self.tl_min = self.psw_min = self.outside = self.corrected = self.cents = 0

    def add(self, d: Any) -> None:
        s, code, sched = d.status, d.code, d.scheduled
        self.hk += sched
        self.h += sched and s == "HADIR" and code not in recap.DL_CODES
        self.dl += sched and s in ("HADIR", "ABSEN") and code in recap.DL_CODES
        self.izin += sched and s == "ABSEN" and code in recap.IZIN_CODES
        self.sakit += sched and s == "ABSEN" and code in recap.SAKIT_CODES
        self.cuti += sched and s == "ABSEN" and code in recap.CUTI_CODES
        self.tk += sched and s == "TK"
        if d.tl:
            self.tl[int(d.tl[2]) - 1] += 1
        if d.psw:
            self.psw[int(d.psw[3]) - 1] += 1
        self.tl_min += d.late_minutes
        self.psw_min += d.early_minutes
        self.outside += d.outside_minutes
        self.corrected += bool(d.corrected)
        self.cents += round(Decimal(str(d.deduction_pct)) * 100)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over
    from the parent across fork and exec, so a child started from a big parent reports the
    parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _once(work: Any, url: str) -> tuple[float, float, str]:
    """One run of ``work`` on a new engine; its time, the time with the engine and the digest.

    The clock runs over the recap (or the loop) on a connection that is already open: making
    the engine, connecting and the bench's own digest of the result are not the recap's work,
    and as a constant in both times they flattened the ratio (0.1-0.15 s at 11,000 people
    against a 0.3-0.5 s recap). Each run still has a new engine, so SQLAlchemy compiles the
    statements afresh every time, as a new ``hadir-central recap`` process does.
    """
    t0 = time.perf_counter()
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(select(1))
        conn.commit()
        t1 = time.perf_counter()
        rows = work(conn)
        t2 = time.perf_counter()
    engine.dispose()
    digest = summary(as_tuples(rows))
    return t2 - t1, time.perf_counter() - t0, digest


def _child(mode: str, url: str, repeat: int, out: Any) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(select(1))
    engine.dispose()
    work = {
        "idle": lambda conn: [],
        "sql": lambda conn: run_sql(conn, per_unit=False),
        "sql_units": lambda conn: run_sql(conn, per_unit=True),
        "loop": run_loop,
    }[mode]
    times, totals, digest = [], [], ""
    for _ in range(repeat):
        t, total, digest = _once(work, url)
        times.append(t)
        totals.append(total)
    rss_mb = peak_rss_mb()
    tracemalloc.start()
    _once(work, url)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out.put({"times": times, "totals": totals, "digest": digest, "rss": rss_mb, "py_peak": peak})


#: People whose month the write measurement upserts (a tenth of the city: 33,000 days).
WRITE_PEOPLE = 1_100


def _write_child(url: str, repeat: int, out: Any) -> None:
    """What the totals' triggers cost the daily computation's write (``daily._upsert``).

    The month of ``WRITE_PEOPLE`` people is upserted with one more outside minute per day
    (every row changes, as a first computation or a late backlog does), in a transaction that
    is rolled back; ``repeat`` times with the triggers, then ``repeat`` times without them
    (dropped for good: the database is this run's own and is thrown away afterwards).
    """
    engine = make_engine(url)
    ds = daily_status
    with engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(select(person.c.id).order_by(person.c.id).limit(WRITE_PEOPLE))
        ]
        rows = [
            dict(r._mapping) | {"outside_minutes": r.outside_minutes + 1}
            for r in conn.execute(select(ds).where(ds.c.person_id.in_(ids)))
        ]
        conn.rollback()
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for label in ("with", "without"):
        if label == "without":
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("ALTER TABLE daily_status DISABLE TRIGGER USER"))
                else:
                    for suffix in ("ins", "del", "upd"):
                        conn.execute(text(f"DROP TRIGGER daily_status_month_{suffix}"))
        for _ in range(repeat):
            with engine.connect() as conn:
                t0 = time.perf_counter()
                for i in range(0, len(rows), daily.WRITE_BATCH):
                    conn.execute(daily._upsert(conn), rows[i : i + daily.WRITE_BATCH])
                timings[label].append(time.perf_counter() - t0)
                conn.rollback()
    engine.dispose()
    out.put({"rows": len(rows), **{k: statistics.median(v) for k, v in timings.items()}})


def measure_write(url: str, repeat: int) -> dict[str, Any]:
    q = SPAWN.Queue()
    p = SPAWN.Process(target=_write_child, args=(url, repeat, q))
    p.start()
    result: dict[str, Any] = q.get()
    p.join()
    return result


def measure(mode: str, url: str, repeat: int) -> dict[str, Any]:
    q = SPAWN.Queue()
    p = SPAWN.Process(target=_child, args=(mode, url, repeat, q))
    p.start()
    result: dict[str, Any] = q.get()
    p.join()
    return result


def pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        print(f"<!-- PostgreSQL not reachable: {exc!s:.200} -->", file=sys.stderr)
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 people, fewer repeats")
    ap.add_argument("--people", type=int, help="override the number of people")
    ap.add_argument("--dir", default=".", help="folder for the SQLite file (not a tmpfs)")
    ap.add_argument("--pg", default=os.environ.get("HADIR_TEST_POSTGRES_URL", DEFAULT_PG))
    args = ap.parse_args()
    people = args.people or (2_000 if args.quick else 11_000)
    repeat = 2 if args.quick else 3
    kinds = ["sqlite"] + (["postgres"] if pg_reachable(args.pg) else [])
    print(f"## Recap benchmark: {people:,} people x 30 days ({people * 30:,} daily_status rows)\n")
    print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs\n")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Load average at the start (1/5/15 min): {load}\n")
    print(
        "| backend | variant | median (s) | min (s) | vs loop | with engine + digest (s) "
        "| vs loop | peak RSS (MB) | idle RSS (MB) | py peak (MB) | result |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    writes: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for kind in kinds:
            with fresh_db(kind, Path(folder), args.pg) as url:
                fill = generate(url, people)
                idle = measure("idle", url, 1)
                res = {
                    m: measure(m, url, 1 if m == "loop" else repeat)
                    for m in ("loop", "sql", "sql_units")
                }
                loop_t = res["loop"]["times"][0]
                loop_total = res["loop"]["totals"][0]
                for m, label in (
                    ("sql", "SQL, all units in one recap"),
                    ("sql_units", f"SQL, LB.1 per unit ({UNITS} recaps)"),
                    ("loop", "per-person loop (baseline)"),
                ):
                    t = statistics.median(res[m]["times"])
                    total = statistics.median(res[m]["totals"])
                    same = "same" if res[m]["digest"] == res["loop"]["digest"] else "DIFFERS"
                    print(
                        f"| {kind} | {label} | {t:.2f} | {min(res[m]['times']):.2f} "
                        f"| {loop_t / t:.1f}x | {total:.2f} | {loop_total / total:.1f}x "
                        f"| {res[m]['rss']:.0f} | {idle['rss']:.0f} "
                        f"| {res[m]['py_peak']:.0f} | {same} |"
                    )
                print(f"| {kind} | (data generation and load) | {fill:.1f} | | | | | | | | |")
                writes[kind] = measure_write(url, repeat)
    print("\nThe daily computation's write, with and without the triggers that keep the totals:\n")
    print("| backend | days upserted | with triggers (s) | without (s) | cost per day (µs) |")
    print("|---|---:|---:|---:|---:|")
    for kind, w in writes.items():
        extra = (w["with"] - w["without"]) / w["rows"] * 1e6
        print(f"| {kind} | {w['rows']:,} | {w['with']:.2f} | {w['without']:.2f} | {extra:.0f} |")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad average at the end: {load}")


if __name__ == "__main__":
    main()

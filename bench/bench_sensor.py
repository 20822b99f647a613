"""Sensor benchmark (issue 2): what R307Sensor costs on top of the bare pyfingerprint 1.5.

Run from the repository root with the project's virtualenv active::

    python bench/bench_sensor.py            # full run, about 25 s on 2 cores
    python bench/bench_sensor.py --quick    # fewer iterations, about 10 s

Every measurement talks to the simulated R307 (``edge.sensor.sim``) over its pty. Each simulator
runs in a child process (multiprocessing, ``spawn``) so that its serving thread never competes
with the client for the GIL; the parent only tells it which finger is on the glass. Libraries
are pre-filled by writing a flash image (two captures, Img2Tz, RegModel per finger, as
enrolment leaves it) that the simulator loads at start.

Driver and bare library are compared on two simulators of identical content (same seed, same
library, same finger placed): each client has its own port, so neither ever sees the other's
bytes, and the two alternate identify by identify (A B, B A, ...) so that drift of the machine
hits both alike. Every round both clients are reopened on swapped simulators, which cancels any
difference between the two simulator processes.

1. ``instant`` timing, 10-template library: ``R307Sensor.identify()`` against the same three
   pyfingerprint calls made bare (``readImage``, ``convertImage(1)``, ``searchTemplate``).
2. ``instant`` timing, full 1000-template library, matching finger in the last slot.
3. ``datasheet`` timing (busy times and UART pacing, r307-protocol.md §5): identify through
   the driver step by step (read_image, extract, search), with 10 and 1000 templates.
4. Why the driver's identify costs what it does: the client's I/O calls per identify (writes,
   reads, selects, input flushes) and the bytes through them, for both clients.

Timings are wall clock (``perf_counter``) per identify; "client CPU" is the CPU time of the
calling thread (``thread_time``). Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import math
import multiprocessing as mp
import os
import platform
import random
import select
import statistics
import sys
import tempfile
import termios
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import serial
from pyfingerprint.pyfingerprint import PyFingerprint

from edge.sensor.r307 import R307Sensor
from edge.sensor.sim import SimulatedR307, fingers
from edge.sensor.sim.flash import Flash, Settings
from edge.sensor.sim.profiles import TIMINGS
from edge.sensor.sim.profiles import model as model_profile

MODEL = "r307"
TARGET_RATIO = 1.10


def label(slot: int) -> str:
    """The finger enrolled in ``slot`` of the benchmark library."""
    return f"person-{slot:04d}"


# -- the simulator, in its own process ---------------------------------------------------------


def _template(finger: str, rng: random.Random) -> bytes:
    """What enrolment leaves in flash: two captures, Img2Tz each, RegModel (see model.py)."""
    first = fingers.capture(finger, fingers.Quality.GOOD, rng)
    second = fingers.capture(finger, fingers.Quality.GOOD, rng)
    return fingers.merge(fingers.char_buffer(first.features), fingers.char_buffer(second.features))


def _prefill_flash(path: str, size: int, seed: int) -> None:
    """Write a flash image holding ``size`` enrolled fingers in slots 0..size-1."""
    profile = model_profile(MODEL)
    defaults = Settings(
        password=0,
        address=0xFFFFFFFF,
        security_level=profile.security_level,
        packet_code=profile.packet_code,
        baud_n=profile.baud_n,
    )
    flash = Flash(profile.capacity, profile.template_size, defaults, path)
    rng = random.Random(seed)
    try:
        for slot in range(size):
            flash.write(slot, _template(label(slot), rng))
    finally:
        flash.close()


def _sim_child(conn: Connection, timing: str, library: int, seed: int) -> None:
    """Child process: a simulator with a pre-filled library, driven over ``conn``."""
    with tempfile.TemporaryDirectory(prefix="hadir-bench-") as tmp:
        flash_path = os.path.join(tmp, "flash.bin")
        _prefill_flash(flash_path, library, seed)
        with SimulatedR307(MODEL, timing, flash_path=flash_path, seed=seed) as sim:
            conn.send((sim.port, len(sim.model.library())))
            while True:
                try:
                    command, *args = conn.recv()
                except EOFError:
                    return  # the parent went away
                if command == "stop":
                    return
                if command == "place":
                    sim.place(args[0])
                elif command == "lift":
                    sim.lift()
                conn.send("ok")


@dataclass
class SimProcess:
    """A SimulatedR307 in a child process; :attr:`port` is its device path."""

    timing: str
    library: int
    seed: int
    port: str = ""
    _conn: Connection | None = None
    _proc: Any = None

    def __enter__(self) -> SimProcess:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_sim_child,
            args=(child, self.timing, self.library, self.seed),
            name=f"sim-{self.timing}-{self.library}",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(60):
            raise RuntimeError("the simulator process did not start")
        self.port, stored = parent.recv()
        if stored != self.library:
            raise RuntimeError(f"library holds {stored} templates, wanted {self.library}")
        return self

    def _ask(self, *message: object) -> None:
        assert self._conn is not None
        self._conn.send(message)
        if self._conn.recv() != "ok":
            raise RuntimeError(f"simulator refused {message!r}")

    def place(self, finger: str) -> None:
        self._ask("place", finger)

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(("stop",))
            self._conn.close()
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)


# -- the two clients ---------------------------------------------------------------------------

Identify = Callable[[], int | None]


@contextlib.contextmanager
def bare_client(port: str) -> Iterator[Identify]:
    """The unmodified library exactly as an application would call it."""
    f = PyFingerprint(port, 57600, 0xFFFFFFFF, 0)
    try:
        if not f.verifyPassword():
            raise RuntimeError("bare pyfingerprint: wrong password")

        def identify() -> int | None:
            if not f.readImage():
                return None
            f.convertImage(1)
            slot, _score = f.searchTemplate()
            return slot if slot >= 0 else None

        yield identify
    finally:
        f._PyFingerprint__serial.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def driver_client(port: str) -> Iterator[Identify]:
    """R307Sensor as the daemon uses it (opened by one probe, outside the timing)."""
    sensor = R307Sensor(port)
    try:
        sensor.probe()

        def identify() -> int | None:
            match = sensor.identify()
            return None if match is None else int(match.slot)

        yield identify
    finally:
        sensor.close()


Client = Callable[[str], contextlib.AbstractContextManager[Identify]]


# -- statistics --------------------------------------------------------------------------------


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        """Nearest-rank percentile of the wall times."""
        ordered = sorted(self.wall)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.wall)

    @property
    def cpu_mean(self) -> float:
        return statistics.fmean(self.cpu)


@dataclass
class Comparison:
    """Two clients measured in pairs: ``ratios`` holds other/base for each pair."""

    base: Samples = field(default_factory=Samples)
    other: Samples = field(default_factory=Samples)
    ratios: list[float] = field(default_factory=list)

    def ratio_quartiles(self) -> tuple[float, float, float]:
        q1, q2, q3 = statistics.quantiles(self.ratios, n=4)
        return q1, q2, q3


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


# -- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    rounds: int  # each round opens both clients afresh, on swapped simulators
    pairs: int  # identify pairs per round
    warmup: int = 2  # untimed identifies per client per round

    @property
    def n(self) -> int:
        return self.rounds * self.pairs


def _timed(identify: Identify, expected: int, into: Samples) -> float:
    c0 = time.thread_time()
    t0 = time.perf_counter()
    slot = identify()
    t1 = time.perf_counter()
    c1 = time.thread_time()
    if slot != expected:
        raise RuntimeError(f"identify found slot {slot}, expected {expected}")
    into.wall.append(t1 - t0)
    into.cpu.append(c1 - c0)
    return t1 - t0


def paired(
    base: Client, other: Client, sims: tuple[SimProcess, SimProcess], expected: int, plan: Plan
) -> Comparison:
    """Alternate the two clients identify by identify, each on its own identical simulator.

    Within a round the order flips every pair (A B, B A, ...); every round the clients swap
    simulators, so a difference between the two simulator processes cancels out too.
    """
    result = Comparison()
    for r in range(plan.rounds):
        first, second = sims if r % 2 == 0 else sims[::-1]
        with base(first.port) as a, other(second.port) as b:
            for _ in range(plan.warmup):
                a()
                b()
            gc.collect()
            for i in range(plan.pairs):
                if i % 2 == 0:
                    ta = _timed(a, expected, result.base)
                    tb = _timed(b, expected, result.other)
                else:
                    tb = _timed(b, expected, result.other)
                    ta = _timed(a, expected, result.base)
                result.ratios.append(tb / ta)
    return result


@contextlib.contextmanager
def twin_sims(timing: str, library: int, seed: int) -> Iterator[tuple[SimProcess, SimProcess]]:
    """Two simulators of identical content (same seed, same library, same finger placed)."""
    slot = library - 1
    with SimProcess(timing, library, seed) as one, SimProcess(timing, library, seed) as two:
        one.place(label(slot))
        two.place(label(slot))
        yield one, two


def compare_table(c: Comparison, base: str, other: str) -> list[str]:
    rows = [
        "| client | n | p50 ms | p99 ms | mean ms | client CPU µs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in ((base, c.base), (other, c.other)):
        rows.append(
            f"| {name} | {len(s.wall)} | {ms(s.p(50))} | {ms(s.p(99))} | {ms(s.mean)} "
            f"| {us(s.cpu_mean)} |"
        )
    q1, q2, q3 = c.ratio_quartiles()
    rows += [
        "",
        f"{other} / {base}: p50 {c.other.p(50) / c.base.p(50):.3f}, "
        f"p99 {c.other.p(99) / c.base.p(99):.3f}, mean {c.other.mean / c.base.mean:.3f}; "
        f"per-pair ratio median {q2:.3f} (IQR {q1:.3f}-{q3:.3f}); "
        f"client CPU {(c.other.cpu_mean - c.base.cpu_mean) * 1e6:+.0f} µs per identify.",
    ]
    return rows


# -- sections ----------------------------------------------------------------------------------

BARE, DRIVER = "bare pyfingerprint", "R307Sensor"


def section_overhead(
    args: argparse.Namespace, sims: tuple[SimProcess, SimProcess], out: list[str]
) -> Comparison:
    plan = Plan(4, 25) if args.quick else Plan(15, 40)
    res = paired(bare_client, driver_client, sims, args.small - 1, plan)
    out += [
        f"#### 1. identify, `instant` timing, {args.small}-template library "
        f"(finger in slot {args.small - 1})",
        "",
        f"{plan.n} identifies per client ({plan.rounds} rounds x {plan.pairs} pairs, "
        f"{plan.warmup} warm-up identifies per client per round not counted).",
        "",
        *compare_table(res, BARE, DRIVER),
        f"Target: driver/bare <= {TARGET_RATIO:.2f}.",
        "",
    ]
    return res


def section_full_library(args: argparse.Namespace, out: list[str]) -> None:
    plan = Plan(2, 5, warmup=1) if args.quick else Plan(6, 10, warmup=1)
    slot = args.large - 1
    with twin_sims("instant", args.large, args.seed) as sims:
        res = paired(bare_client, driver_client, sims, slot, plan)
    out += [
        f"#### 2. identify, `instant` timing, full {args.large}-template library "
        f"(finger in the last slot, {slot})",
        "",
        f"{plan.n} identifies per client, paired as above. Almost all of the time is the "
        "simulator scoring every template in Python in its own process (the simulated "
        "module's compute), not the client.",
        "",
        *compare_table(res, BARE, DRIVER),
        "",
    ]


def _step_times(sensor: R307Sensor, expected: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    if not sensor.read_image():
        raise RuntimeError("no finger on the glass")
    t1 = time.perf_counter()
    sensor.extract()
    t2 = time.perf_counter()
    match = sensor.search()
    t3 = time.perf_counter()
    if match is None or match.slot != expected:
        raise RuntimeError(f"datasheet identify found {match}, expected slot {expected}")
    return t1 - t0, t2 - t1, t3 - t2


def _datasheet_row(size: int, reps: int, seed: int) -> str:
    slot = size - 1
    steps: list[tuple[float, float, float]] = []
    bare = Samples()
    with SimProcess("datasheet", size, seed) as sim:
        sim.place(label(slot))
        for _ in range(reps):
            sensor = R307Sensor(sim.port)
            try:
                sensor.probe()  # the handshake stays out of the timed steps
                steps.append(_step_times(sensor, slot))
            finally:
                sensor.close()
            with bare_client(sim.port) as identify:
                _timed(identify, slot, bare)
    img, ext, sea = (statistics.fmean(s[i] for s in steps) for i in range(3))
    totals = [sum(s) for s in steps]
    total = statistics.fmean(totals)
    t = TIMINGS["datasheet"]
    busy = t.capture_s + t.extract_s + t.search_base_s + t.search_per_template_s * size
    return (
        f"| {size} | {img:.3f} | {ext:.3f} | {sea:.3f} "
        f"| {total:.3f} ({min(totals):.3f}-{max(totals):.3f}) | {bare.mean:.3f} "
        f"| {total / bare.mean:.3f} | {busy:.3f} |"
    )


def section_datasheet(args: argparse.Namespace, out: list[str]) -> None:
    reps = 2 if args.quick else 5
    t = TIMINGS["datasheet"]
    out += [
        "#### 3. identify, `datasheet` timing (module busy times, 57600 baud pacing; §5)",
        "",
        f"{reps} identifies per library size through the driver, timed step by step, "
        "alternating with as many bare identifies, on one simulator (one client on the port "
        f"at a time). Simulator busy times: image {t.capture_s} s, extract {t.extract_s} s, "
        f"search {t.search_base_s} s + {t.search_per_template_s * 1e3:.1f} ms per template. "
        "R307 datasheet: image < 0.3 s, search < 1 s at 1:1000 (no extraction figure for the "
        "R307; the R503 gives < 0.5 s). The search step includes pyfingerprint's ReadSysPara "
        "before Search.",
        "",
        "| library | read_image s | extract s | search s | driver identify s (min-max) "
        "| bare identify s | driver/bare | sim busy s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_datasheet_row(size, reps, args.seed) for size in (args.small, args.large)),
        "",
    ]


# -- section 4: why (I/O calls per identify) ---------------------------------------------------

# What one identify costs the client is mostly syscalls: pyserial makes a select and a read or
# write per call, and pyfingerprint calls it once per byte. These are the functions both clients'
# port code reaches (pyserial and the driver look them up on the module at every call).
_IO_FUNCTIONS = (
    ("os.write", os, "write"),
    ("os.read", os, "read"),
    ("select.select", select, "select"),
    ("termios.tcflush", termios, "tcflush"),
)


@contextlib.contextmanager
def _counting_io() -> Iterator[Counter[str]]:
    """Count calls of the I/O functions (and bytes through os.read/os.write) in this process.

    Only for an untimed identify: the wrappers cost time themselves. The simulator is in its own
    process, so only the client's calls are counted.
    """
    counts: Counter[str] = Counter()
    saved = [(module, attr, getattr(module, attr)) for _, module, attr in _IO_FUNCTIONS]

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            result = fn(*a, **k)
            counts[name] += 1
            if name == "os.write":
                counts["bytes written"] += result
            elif name == "os.read":
                counts["bytes read"] += len(result)
            return result

        return wrapper

    try:
        for name, module, attr in _IO_FUNCTIONS:
            setattr(module, attr, counted(name, getattr(module, attr)))
        yield counts
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)


def _io_per_identify(client: Client, port: str, expected: int, n: int) -> dict[str, float]:
    with client(port) as identify:
        identify()  # the first identify after opening is not typical
        with _counting_io() as counts:
            for _ in range(n):
                if identify() != expected:
                    raise RuntimeError(f"identify did not find slot {expected}")
    return {k: v / n for k, v in counts.items()}


def section_io(
    args: argparse.Namespace, sims: tuple[SimProcess, SimProcess], out: list[str]
) -> None:
    n = 10 if args.quick else 50
    slot = args.small - 1
    per = {
        name: _io_per_identify(client, sims[0].port, slot, n)
        for name, client in ((BARE, bare_client), (DRIVER, driver_client))
    }
    keys = [name for name, _, _ in _IO_FUNCTIONS] + ["bytes written", "bytes read"]
    out += [
        "#### 4. Why: I/O calls per identify",
        "",
        f"Calls the client makes per identify (mean over {n} untimed identifies, "
        f"{args.small} templates, `instant`), counted by wrapping these functions in this "
        "process; the bytes through `os.write`/`os.read` show that both put the same bytes on "
        "the wire. pyserial makes a `select` with every read and write; the driver's port, "
        "inside a transaction, holds pyfingerprint's one-byte writes until its next read and "
        "serves reads from what has already arrived.",
        "",
        f"| call | {BARE} | {DRIVER} |",
        "|---|---:|---:|",
        *(
            f"| {k if k.startswith('bytes') else f'`{k}`'} | {per[BARE].get(k, 0):.1f} "
            f"| {per[DRIVER].get(k, 0):.1f} |"
            for k in keys
        ),
        "",
    ]


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (about 10 s)")
    parser.add_argument("--seed", type=int, default=7, help="seed for templates and captures")
    parser.add_argument("--small", type=int, default=10, help="templates in the small library")
    parser.add_argument("--large", type=int, default=1000, help="templates in the full library")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    flags = " ".join(sys.argv[1:] if argv is None else argv)
    out = [
        "### Sensor benchmark results",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"pyserial {serial.VERSION}, pyfingerprint 1.5",
        f"- command: `python bench/bench_sensor.py{' ' + flags if flags else ''}`",
        "",
    ]
    with twin_sims("instant", args.small, args.seed) as sims:
        res = section_overhead(args, sims, out)
        io: list[str] = []
        section_io(args, sims, io)
    section_full_library(args, out)
    section_datasheet(args, out)
    out += io
    ratios = {
        "per-pair median": statistics.median(res.ratios),
        "p50": res.other.p(50) / res.base.p(50),
        "mean": res.other.mean / res.base.mean,
    }
    over = [k for k, v in ratios.items() if v > TARGET_RATIO]
    verdict = "met" if not over else f"exceeded on {', '.join(over)}"
    out.append(
        "**Verdict (section 1):** driver/bare "
        + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
        + f"; target <= {TARGET_RATIO:.2f}: {verdict}. "
        f"Run took {time.perf_counter() - started:.0f} s."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

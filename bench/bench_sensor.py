"""Sensor benchmark (issue 2): what R307Sensor costs on top of the bare pyfingerprint 1.5.

Run from the repository root with the project's virtualenv active::

    python bench/bench_sensor.py            # full run, about 30 s on 2 cores
    python bench/bench_sensor.py --quick    # fewer iterations, about 12 s

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
4. Where the driver's extra time goes: the driver with parts of its transport switched off (in
   this process only, for diagnosis), plus per-call costs of the transport primitives.

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
import statistics
import sys
import tempfile
import time
import tty
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import serial
from pyfingerprint.pyfingerprint import PyFingerprint

from edge.sensor.r307 import R307Sensor, _DeadlineSerial
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
        f"client CPU +{us(c.other.cpu_mean - c.base.cpu_mean)} µs per identify.",
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


# -- section 4: where the driver's time goes ---------------------------------------------------

_ORIGINAL_READ = _DeadlineSerial.read
_ORIGINAL_FLUSH = _DeadlineSerial.reset_input_buffer


def _no_flush(self: serial.Serial) -> None:
    del self


@contextlib.contextmanager
def _driver_variant(plain_read: bool, no_flush: bool) -> Iterator[None]:
    """Switch parts of the driver's transport off, in this process only, for diagnosis."""
    try:
        if plain_read:
            _DeadlineSerial.read = serial.Serial.read  # type: ignore[method-assign]
        if no_flush:
            _DeadlineSerial.reset_input_buffer = _no_flush  # type: ignore[method-assign]
        yield
    finally:
        _DeadlineSerial.read = _ORIGINAL_READ  # type: ignore[method-assign]
        _DeadlineSerial.reset_input_buffer = _ORIGINAL_FLUSH  # type: ignore[method-assign]


def _variant_client(plain_read: bool, no_flush: bool) -> Client:
    @contextlib.contextmanager
    def client(port: str) -> Iterator[Identify]:
        with _driver_variant(plain_read, no_flush), driver_client(port) as identify:
            yield identify

    return client


def _count_calls(port: str) -> Counter[str]:
    """How many reads, writes and input flushes one driver identify makes on its port."""
    counts: Counter[str] = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            counts[name] += 1
            return fn(*a, **k)

        return wrapper

    with driver_client(port) as identify:
        identify()
        try:
            _DeadlineSerial.read = counted("read", _ORIGINAL_READ)  # type: ignore[method-assign]
            _DeadlineSerial.write = counted("write", serial.Serial.write)  # type: ignore[method-assign]
            _DeadlineSerial.reset_input_buffer = counted("flush", _ORIGINAL_FLUSH)  # type: ignore[method-assign]
            identify()
        finally:
            _DeadlineSerial.read = _ORIGINAL_READ  # type: ignore[method-assign]
            del _DeadlineSerial.write
            _DeadlineSerial.reset_input_buffer = _ORIGINAL_FLUSH  # type: ignore[method-assign]
    return counts


def _per_call_costs(n: int) -> dict[str, float]:
    """Seconds per call of the transport primitives on a local pty (no peer, bytes waiting)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    costs: dict[str, float] = {}
    try:
        path = os.ttyname(slave)
        for name, cls in (("Serial", serial.Serial), ("_DeadlineSerial", _DeadlineSerial)):
            port = cls(path, 57600, bytesize=8, timeout=2)
            try:
                t0 = time.perf_counter()
                for _ in range(n):
                    port.reset_input_buffer()
                costs[f"{name}.reset_input_buffer()"] = (time.perf_counter() - t0) / n
                spent, chunks = 0.0, max(1, n // 200)
                for _ in range(chunks):
                    os.write(master, bytes(200))
                    time.sleep(0.002)
                    if isinstance(port, _DeadlineSerial):
                        port.deadline = time.monotonic() + 2.0
                    t0 = time.perf_counter()
                    for _ in range(200):
                        port.read(1)
                    spent += time.perf_counter() - t0
                    if isinstance(port, _DeadlineSerial):
                        port.deadline = None
                costs[f"{name}.read(1)"] = spent / (chunks * 200)
                writes = max(1, n // 10)
                t0 = time.perf_counter()
                for _ in range(writes):
                    port.write(b"\x00")
                costs[f"{name}.write(1 byte)"] = (time.perf_counter() - t0) / writes
                with contextlib.suppress(BlockingIOError):
                    while os.read(master, 65536):
                        pass
            finally:
                port.close()
    finally:
        os.close(master)
        os.close(slave)
    return costs


def _call_cost(port: str, n: int) -> tuple[float, float]:
    """Seconds per driver transaction around a no-op: with the input flush, and without."""
    sensor = R307Sensor(port)
    try:
        sensor.probe()
        results = []
        for no_flush in (False, True):
            with _driver_variant(plain_read=False, no_flush=no_flush):
                t0 = time.perf_counter()
                for _ in range(n):
                    sensor._call("noop", lambda f: None)
                results.append((time.perf_counter() - t0) / n)
        return results[0], results[1]
    finally:
        sensor.close()


@contextlib.contextmanager
def _direct_client(port: str) -> Iterator[Identify]:
    """The driver's own PyFingerprint and port, called without the driver (plain read, no flush).

    A control: same serial object and handshake as the driver, none of its per-call code.
    """
    with _driver_variant(plain_read=True, no_flush=True):
        sensor = R307Sensor(port)
        try:
            sensor.probe()
            fp = sensor._fp
            assert fp is not None

            def identify() -> int | None:
                if not fp.readImage():
                    return None
                fp.convertImage(1)
                slot, _score = fp.searchTemplate()
                return slot if slot >= 0 else None

            yield identify
        finally:
            sensor.close()


def section_breakdown(
    args: argparse.Namespace, sims: tuple[SimProcess, SimProcess], out: list[str]
) -> None:
    plan = Plan(2, 25) if args.quick else Plan(6, 40)
    variants: dict[str, Client] = {
        "A. R307Sensor as shipped": _variant_client(plain_read=False, no_flush=False),
        "B. no input flush": _variant_client(plain_read=False, no_flush=True),
        "C. pyserial's own read (no per-byte deadline)": _variant_client(
            plain_read=True, no_flush=False
        ),
        "D. neither (only the driver's per-call Python path left)": _variant_client(
            plain_read=True, no_flush=True
        ),
        "E. control: driver's port and PyFingerprint called directly": _direct_client,
        "F. control: bare pyfingerprint against itself": bare_client,
    }
    slot = args.small - 1
    rows, extra, bare_cpu = [], {}, []
    for name, client in variants.items():
        c = paired(bare_client, client, sims, slot, plan)
        # Relative to the paired bare run: the machine's speed drifts between rows.
        extra[name[0]] = c.other.cpu_mean / c.base.cpu_mean - 1
        bare_cpu.append(c.base.cpu_mean)
        rows.append(
            f"| {name} | {ms(c.base.p(50))} | {ms(c.other.p(50))} "
            f"| {statistics.median(c.ratios):.3f} | {us(c.base.cpu_mean)} "
            f"| {us(c.other.cpu_mean)} | {(c.other.cpu_mean - c.base.cpu_mean) * 1e6:+.0f} "
            f"| {extra[name[0]] * 100:+.1f} % |"
        )
    cpu = statistics.fmean(bare_cpu)

    def part(a: str, b: str) -> str:
        d = extra[a] - extra[b]
        return f"{d * 100:+.1f} % (~{d * cpu * 1e6:+.0f} µs)"

    counts = _count_calls(sims[0].port)
    with_flush, without_flush = _call_cost(sims[0].port, 2000 if args.quick else 10000)
    costs = _per_call_costs(4000 if args.quick else 20000)
    d_read = costs["_DeadlineSerial.read(1)"] - costs["Serial.read(1)"]
    bare_io = (
        counts["read"] * costs["Serial.read(1)"] + counts["write"] * costs["Serial.write(1 byte)"]
    )
    out += [
        "#### 4. Where the driver's extra time goes (diagnosis)",
        "",
        "Each variant paired with bare pyfingerprint as in section 1 "
        f"({plan.n} pairs each, {args.small} templates, `instant`). Variants switch parts of "
        "the driver's transport off by patching `_DeadlineSerial` in this process only; the "
        "driver itself is unchanged. CPU is the client thread's CPU time per identify."
        + (" (--quick: too few pairs for a stable attribution.)" if args.quick else ""),
        "",
        "| variant | bare p50 ms | variant p50 ms | per-pair ratio median "
        "| bare CPU µs | variant CPU µs | CPU over bare µs | CPU over bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Attribution of the driver's extra client CPU per identify, as differences of the "
        "rows' CPU over bare (in % of bare client CPU, and in µs at this run's mean bare CPU "
        f"of {cpu * 1e6:.0f} µs): per-byte deadline read A-C {part('A', 'C')}, input flush "
        f"A-B {part('A', 'B')}, per-call Python path (`_call`/`_attempts`/wrappers) D-E "
        f"{part('D', 'E')}; noise floor (row F) {extra['F'] * 100:+.1f} %.",
        "",
        f"One driver identify makes {counts['read']} one-byte reads, {counts['write']} one-byte "
        f"writes (pyfingerprint reads and writes byte by byte) and {counts['flush']} input "
        "flushes (one per transaction: read_image, extract, search). Per-call costs in a tight "
        "loop (warm caches, so lower bounds for the live figures above):",
        "",
        "| primitive | µs per call |",
        "|---|---:|",
        *(f"| `{k}` (local pty, bytes waiting) | {v * 1e6:.2f} |" for k, v in costs.items()),
        f"| driver `_call` around a no-op (lock, flush, deadline) | {with_flush * 1e6:.2f} |",
        f"| driver `_call` around a no-op, flush off | {without_flush * 1e6:.2f} |",
        "",
        f"From these: deadline read {counts['read']} x {d_read * 1e6:.2f} µs = "
        f"{counts['read'] * d_read * 1e6:.0f} µs, transactions {counts['flush']} x "
        f"{with_flush * 1e6:.2f} µs = {counts['flush'] * with_flush * 1e6:.0f} µs per identify; "
        f"the byte-by-byte I/O bare pyfingerprint itself does costs {bare_io * 1e6:.0f} µs "
        f"({counts['read']} reads + {counts['write']} writes).",
        "",
    ]


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (about 12 s)")
    parser.add_argument("--seed", type=int, default=7, help="seed for templates and captures")
    parser.add_argument("--small", type=int, default=10, help="templates in the small library")
    parser.add_argument("--large", type=int, default=1000, help="templates in the full library")
    parser.add_argument(
        "--skip-breakdown", action="store_true", help="leave out section 4 (diagnosis)"
    )
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
        if not args.skip_breakdown:
            breakdown: list[str] = []
            section_breakdown(args, sims, breakdown)
    section_full_library(args, out)
    section_datasheet(args, out)
    if not args.skip_breakdown:
        out += breakdown
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

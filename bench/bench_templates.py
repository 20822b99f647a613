"""Template install benchmark (issue 6): a site's templates onto a fresh terminal, against the wire.

Run from the repository root with the project's virtualenv active::

    python bench/bench_templates.py --sync           # 1,000 templates, both sections, ~19 min
    python bench/bench_templates.py                  # section 1 only, about 8.5 minutes
    python bench/bench_templates.py --quick          # 100 templates, section 1, under a minute
    python bench/bench_templates.py --quick --sync   # 100 templates, both sections, ~2 minutes

Set-up (not timed): a *source* simulator (``r307`` profile, ``instant`` timing, in this process)
enrols N distinct simulated fingers through :class:`R307Sensor` the way a technician's
enrollment does (two captures, Img2Tz into each buffer, RegModel, Store), and the N templates are
read out of it over the wire (LoadChar + UpChar). Then a *fresh* simulator (``r307``,
``datasheet`` timing: 57600 baud pacing, 0.25 s flash writes) starts with an empty library in a
child process (``spawn``), so its serving thread never competes with the client for the GIL. It
counts every byte that crosses its pty in each direction.

1. **Driver level.** N x ``R307Sensor.write_template(slot, template)`` on the fresh terminal, slot
   i for template i: DownChar + data packets (pyfingerprint reads the buffer back with UpChar),
   Store, then the driver's own read-back (LoadChar + UpChar) and comparison. The instance's
   ``store`` and ``read_template`` are wrapped to time the three phases of each call; the
   wrappers call the originals and cost about a microsecond.
2. **Terminal install path** (``--sync``). ``edge.sync.TemplateSync.handle_command`` with
   ``install_template`` commands (``wire.sync``) whose templates are sealed to the terminal's key
   (``wire.sealing``; sealing is the central's work and stays outside the timing), on a second
   fresh ``datasheet`` simulator, on a fresh store. Skipped, with the reason, while
   ``edge.sync`` is absent or its constructor differs from :func:`_build_template_sync` (the
   one place to adapt).

The byte-rate limit is the time the UART needs for the bytes that must cross it for the same
data (r307-protocol.md §1.2, §2.5: every packet is 11 bytes plus its content; data travels in
packets of the module's data packet size): DownChar command and ack, the data packets, Store
command and ack; verification adds LoadChar command and ack, UpChar command and ack, and the data
packets back. It is divided by 57600 / 10 bytes per second (8N1: 10 bits a byte).

End check: the fresh terminal's index must hold exactly slots 0..N-1, every slot's template in
the simulated flash must equal the source template byte for byte, and a sample is read back over
the wire. Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import math
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import serial

from edge.sensor.protocol import CharBuffer, Slot
from edge.sensor.r307 import R307Sensor
from edge.sensor.sim import SimulatedR307
from edge.sensor.sim.profiles import TIMINGS
from edge.sensor.sim.profiles import model as model_profile

MODEL = "r307"
BAUD = 57600
BYTES_PER_S = BAUD / 10  # 8N1: start bit, 8 data bits, stop bit
PACKET_OVERHEAD = 11  # header 2, address 4, PID 1, length 2, checksum 2 (§1.2)
FINGER = "right-index"


def label(i: int) -> str:
    """The simulated finger of the i-th person of the site."""
    return f"site-person-{i:04d}"


def person_number(i: int) -> str:
    """A well-formed NIP PNS for the i-th person (born 1985, TMT 2010-01, male, sequence)."""
    day, seq = divmod(i, 999)
    return f"198501{day + 1:02d}201001" + f"1{seq + 1:03d}"


# -- the byte-rate limit -----------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One command and its reply (plus data packets either way), in bytes on the wire."""

    name: str
    host: int  # host -> module
    module: int  # module -> host
    busy_s: float  # how long the simulated module works before its reply (datasheet profile)


def packet(content: int) -> int:
    """Bytes on the wire for one packet with ``content`` bytes of content (§1.2)."""
    return PACKET_OVERHEAD + content


def data_packets(size: int, packet_size: int) -> int:
    """Bytes on the wire for ``size`` bytes of data in packets of ``packet_size`` (§2.5)."""
    full, rest = divmod(size, packet_size)
    return full * packet(packet_size) + (packet(rest) if rest else 0)


@dataclass(frozen=True)
class WireModel:
    """The exchanges of one template install, by phase, at a given template and packet size."""

    template_size: int
    packet_size: int
    command_s: float
    flash_write_s: float

    def _ack(self, extra: int = 0) -> int:
        return packet(1 + extra)

    def _up_char(self, name: str) -> Exchange:
        data = data_packets(self.template_size, self.packet_size)
        return Exchange(name, packet(2), self._ack() + data, self.command_s)

    def install(self) -> list[Exchange]:
        """What must cross the UART to put one template into a slot: DownChar, data, Store."""
        data = data_packets(self.template_size, self.packet_size)
        return [
            Exchange("DownChar + data packets", packet(2) + data, self._ack(), self.command_s),
            Exchange("Store", packet(4), self._ack(), self.flash_write_s),
        ]

    def verification(self) -> list[Exchange]:
        """What the read-back adds: LoadChar, UpChar and the data packets back."""
        return [
            Exchange("LoadChar", packet(4), self._ack(), self.command_s),
            self._up_char("UpChar + data packets"),
        ]

    def driver_phases(self) -> dict[str, list[Exchange]]:
        """What ``R307Sensor.write_template`` really sends, phase by phase.

        Since the driver sends DownChar itself and reads the parameter block once per open,
        that is exactly the limit with verification: no ReadSysPara before each call and no
        read-back of the buffer before Store (the earlier driver sent 701 B more per template;
        bench/README.md keeps that run's figures).
        """
        down, store = self.install()
        load, up = self.verification()
        return {"upload": [down], "store": [store], "verify": [load, up]}


def wire_bytes(exchanges: list[Exchange]) -> int:
    """Bytes both ways."""
    return sum(e.host + e.module for e in exchanges)


def wire_s(nbytes: float) -> float:
    """Time on the UART for ``nbytes`` at 57600 baud."""
    return nbytes / BYTES_PER_S


def sim_floor_s(exchanges: list[Exchange]) -> float:
    """What the simulator spends: busy time, module -> host bytes (it paces only those)."""
    return sum(e.busy_s + wire_s(e.module) for e in exchanges)


def uart_estimate_s(exchanges: list[Exchange]) -> float:
    """Busy time plus every byte both ways at the UART's rate: a real module on a real cable."""
    return sum(e.busy_s + wire_s(e.host + e.module) for e in exchanges)


# -- the fresh terminal, in its own process ----------------------------------------------------


def _counting(fn: Callable[..., Any], counts: dict[str, int], key: str, arg: bool) -> Any:
    """Wrap a PtyLink method to add the bytes it moves to ``counts[key]``.

    A write is counted before it happens: the host may have the bytes, answer, and have the
    counters reset before the write call returns here.
    """

    def wrapper(*a: Any, **k: Any) -> Any:
        if arg:
            counts[key] += len(a[0])
            return fn(*a, **k)
        result = fn(*a, **k)
        counts[key] += len(result)
        return result

    return wrapper


def _terminal_child(conn: Connection, timing: str, seed: int) -> None:
    """Child process: a fresh simulator counting the bytes through its pty."""
    with SimulatedR307(MODEL, timing, seed=seed) as sim:
        counts = {"host": 0, "module": 0}
        sim.link.read = _counting(sim.link.read, counts, "host", arg=False)  # type: ignore[method-assign]
        sim.link.write = _counting(sim.link.write, counts, "module", arg=True)  # type: ignore[method-assign]
        conn.send(sim.port)
        while True:
            try:
                command = conn.recv()
            except EOFError:
                return
            if command == "stop":
                return
            if command == "reset":
                counts["host"] = counts["module"] = 0
                sim.commands_seen = 0
                conn.send("ok")
            elif command == "counts":
                conn.send({**counts, "commands": sim.commands_seen})
            elif command == "library":
                conn.send(sim.model.library())


@dataclass
class Terminal:
    """A fresh SimulatedR307 in a child process; :attr:`port` is its device path."""

    timing: str
    seed: int
    port: str = ""
    _conn: Connection | None = None
    _proc: Any = None

    def __enter__(self) -> Terminal:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_terminal_child, args=(child, self.timing, self.seed), name="sim-terminal"
        )
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(60):
            raise RuntimeError("the terminal simulator did not start")
        self.port = parent.recv()
        return self

    def ask(self, command: str) -> Any:
        """Send one command to the child and return its answer."""
        assert self._conn is not None
        self._conn.send(command)
        return self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send("stop")
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join()


# -- set-up: the site's templates --------------------------------------------------------------


def source_templates(n: int, seed: int) -> list[bytes]:
    """Enrol ``n`` distinct fingers on an ``instant`` simulator and read their templates out."""
    with SimulatedR307(MODEL, "instant", seed=seed) as sim:
        sensor = R307Sensor(sim.port)
        try:
            for i in range(n):
                sim.place(label(i))
                for buffer in (CharBuffer.ONE, CharBuffer.TWO):
                    if not sensor.read_image():
                        raise RuntimeError("the source simulator saw no finger")
                    sensor.extract(buffer)
                sensor.merge()
                sensor.store(Slot(i))
                sim.lift()
            templates = [sensor.read_template(Slot(i)) for i in range(n)]
        finally:
            sensor.close()
    if len(set(templates)) != n:
        raise RuntimeError("the source templates are not all distinct")
    return templates


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Run:
    """Timings of one install run: per call, per phase, and the bytes the simulator saw."""

    n: int
    packet_size: int = 0  # the fresh module's data packet size (ReadSysPara)
    total_s: float = 0.0
    cpu_s: float = 0.0
    per_call: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    check: str = ""


def _timed_method(sensor: R307Sensor, name: str, into: dict[str, float]) -> Callable[[], None]:
    """Wrap ``sensor.<name>`` on the instance so its time adds to ``into[name]``."""
    original = getattr(sensor, name)
    into[name] = 0.0

    def wrapper(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            into[name] += time.perf_counter() - t0

    setattr(sensor, name, wrapper)
    return lambda: delattr(sensor, name)


def _progress(i: int, n: int, started: float) -> None:
    if (i + 1) % max(1, n // 10) == 0:
        elapsed = time.perf_counter() - started
        print(f"  {i + 1}/{n} in {elapsed:.0f} s", file=sys.stderr, flush=True)


def end_check(sensor: R307Sensor, terminal: Terminal, templates: list[bytes], sample: int) -> str:
    """Index, flash contents and a sample read over the wire, against the source templates."""
    n = len(templates)
    used = sensor.used_slots()
    if used != frozenset(range(n)):
        raise RuntimeError(f"index: {len(used)} slots used, expected exactly 0..{n - 1}")
    library: dict[int, bytes] = terminal.ask("library")
    wrong = [s for s in range(n) if library.get(s) != templates[s]]
    if wrong or len(library) != n:
        raise RuntimeError(f"flash: {len(wrong)} slots differ from the source, {len(library)} used")
    step = max(1, n // max(1, sample))
    picked = list(range(0, n, step))[:sample]
    for s in picked:
        if sensor.read_template(Slot(s)) != templates[s]:
            raise RuntimeError(f"slot {s} read back over the wire differs from the source")
    return (
        f"index holds exactly slots 0..{n - 1}; all {n} slots equal the source templates byte for "
        f"byte (simulated flash); {len(picked)} slots ({step} apart) read back over the wire "
        "(LoadChar + UpChar) equal too"
    )


def run_driver(templates: list[bytes], seed: int, sample: int) -> Run:
    """Section 1: N x R307Sensor.write_template on a fresh ``datasheet`` terminal."""
    n = len(templates)
    run = Run(n)
    with Terminal("datasheet", seed) as terminal:
        sensor = R307Sensor(terminal.port, baud=BAUD)
        try:
            info = sensor.info()  # opens the port (VfyPwd, ReadSysPara) outside the timing
            if info.used:
                raise RuntimeError(f"the fresh terminal already holds {info.used} templates")
            run.packet_size = info.packet_size
            terminal.ask("reset")
            undo = [_timed_method(sensor, m, run.phases) for m in ("store", "read_template")]
            started = time.perf_counter()
            c0 = time.thread_time()
            for i, template in enumerate(templates):
                t0 = time.perf_counter()
                sensor.write_template(Slot(i), template)
                run.per_call.append(time.perf_counter() - t0)
                _progress(i, n, started)
            run.total_s = time.perf_counter() - started
            run.cpu_s = time.thread_time() - c0
            for fn in undo:
                fn()
            run.counts = terminal.ask("counts")
            run.check = end_check(sensor, terminal, templates, sample)
        finally:
            sensor.close()
    run.phases["upload"] = run.total_s - run.phases["store"] - run.phases["read_template"]
    return run


# -- section 2: the terminal's whole install path (edge/sync.py) -------------------------------


class SyncNotReady(RuntimeError):
    """The terminal's install path cannot be driven yet; the message says why."""


def _build_template_sync(sensor: R307Sensor, state_dir: Path, stack: contextlib.ExitStack) -> Any:
    """Construct ``edge.sync.TemplateSync`` for a bare terminal: the one place to adapt.

    Follows SyncBook's constructor (edge/sync/book.py: sensor, store, clock, device, central
    key, terminal key) with a fresh store in ``state_dir`` and the terminal's key in
    ``state_dir/template.key``, as the daemon keeps them (docs/template-sync.md, Keys). No
    output: the install's answer is the command result, and nothing is published.

    Raises:
        SyncNotReady: edge.sync is not importable, TemplateSync's constructor differs, or it
            has no ``handle_command`` yet.
    """
    try:
        from edge.sync import TemplateSync  # type: ignore[attr-defined, unused-ignore]
    except ImportError as exc:
        raise SyncNotReady(f"edge.sync is not importable ({exc})") from exc
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from edge.clock import SystemClock
    from edge.store import Store
    from wire.sealing import load_or_create_private_key
    from wire.topics import validate_device_id

    store = stack.enter_context(Store(state_dir / "edge.db"))
    try:
        sync = TemplateSync(
            sensor=sensor,
            store=store,
            clock=SystemClock(),
            device=validate_device_id("bench-terminal"),
            central_key=X25519PrivateKey.generate().public_key(),
            private_key=load_or_create_private_key(state_dir / "template.key"),
        )
    except TypeError as exc:
        raise SyncNotReady(
            f"adapt _build_template_sync to TemplateSync's constructor: {exc}"
        ) from exc
    if not callable(getattr(sync, "handle_command", None)):
        raise SyncNotReady("TemplateSync has no handle_command yet")
    return sync


def run_sync(templates: list[bytes], seed: int, sample: int) -> Run | str:
    """Section 2: install_template commands through TemplateSync.handle_command.

    Returns the run, or why it could not run. The templates are sealed to the terminal's key
    before the clock starts (that is the central's work); the timed part is the terminal's:
    decode the parameters, open the box, DownChar/Store/read-back, map the slot, answer.
    """
    from wire.sealing import b64, load_or_create_private_key, seal
    from wire.sync import Install, install_command, new_template_id

    n = len(templates)
    with (
        Terminal("datasheet", seed) as terminal,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as stack,
    ):
        state_dir = Path(tmp)
        sensor = R307Sensor(terminal.port, baud=BAUD)
        stack.callback(sensor.close)
        try:
            sync = _build_template_sync(sensor, state_dir, stack)
        except SyncNotReady as exc:
            return f"not run: {exc}"
        public = load_or_create_private_key(state_dir / "template.key").public_key()
        commands = []
        for i, template in enumerate(templates):
            tid = new_template_id()
            sealed = b64(seal(template, public, tid))
            commands.append(install_command(Install(tid, person_number(i), FINGER, sealed)))
        sensor.info()
        terminal.ask("reset")
        run = Run(n)
        for name in ("write_template", "used_slots", "info"):
            _timed_method(sensor, name, run.phases)
        started = time.perf_counter()
        c0 = time.thread_time()
        for i, command in enumerate(commands):
            t0 = time.perf_counter()
            result = sync.handle_command(command)
            run.per_call.append(time.perf_counter() - t0)
            if not getattr(result, "ok", True):
                raise RuntimeError(f"install {i} failed: {getattr(result, 'detail', '')}")
            _progress(i, n, started)
        run.total_s = time.perf_counter() - started
        run.cpu_s = time.thread_time() - c0
        run.counts = terminal.ask("counts")
        for name in ("write_template", "used_slots", "info"):
            delattr(sensor, name)
        run.check = end_check(sensor, terminal, templates, sample)
        mapped = sorted(t.slot for t in sync.store.templates.all())
        if mapped != list(range(n)):
            raise RuntimeError(f"slot map: {len(mapped)} slots mapped, expected 0..{n - 1}")
        run.check += f"; the slot map holds {n} template ids for slots 0..{n - 1}"
    return run


# -- report ------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def budget_table(model: WireModel) -> list[str]:
    """Bytes per template on the wire, by exchange, with what the simulator models."""
    rows = [
        "| exchange | host -> module B | module -> host B | total B | at 57600 baud ms "
        "| module busy ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def add(e: Exchange, prefix: str = "") -> None:
        total = e.host + e.module
        rows.append(
            f"| {prefix}{e.name} | {e.host} | {e.module} | {total} | {wire_s(total) * 1e3:.1f} "
            f"| {e.busy_s * 1e3:.0f} |"
        )

    def subtotal(name: str, ex: list[Exchange]) -> None:
        host, module = sum(e.host for e in ex), sum(e.module for e in ex)
        busy = sum(e.busy_s for e in ex)
        rows.append(
            f"| **{name}** | {host} | {module} | **{host + module}** "
            f"| **{wire_s(host + module) * 1e3:.1f}** | {busy * 1e3:.0f} |"
        )

    for e in model.install():
        add(e)
    subtotal("install (the limit without verification)", model.install())
    for e in model.verification():
        add(e, "+ ")
    subtotal(
        "install + verification (the limit with verification)",
        model.install() + model.verification(),
    )
    phases = model.driver_phases()
    driver = [e for ex in phases.values() for e in ex]
    extra = [e for e in driver if "pyfingerprint" in e.name]
    for name in dict.fromkeys(e.name for e in extra):
        same = [e for e in extra if e.name == name]
        one = same[0]
        times = f" x {len(same)}" if len(same) > 1 else ""
        add(
            Exchange(
                f"{name}{times}",
                one.host * len(same),
                one.module * len(same),
                one.busy_s * len(same),
            ),
            "+ ",
        )
    subtotal("what write_template sends", driver)
    return rows


RESULT_HEADER = [
    "| variant | templates | total s | per template ms | bytes on the wire (limit basis) "
    "| limit s | **ratio measured/limit** | limit + module busy s | ratio to that |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def result_rows(run: Run, model: WireModel, name: str) -> list[str]:
    """Measured time against the limit, with and without the read-back verification.

    The limit is the bytes of DownChar + Store (+ LoadChar + UpChar with verification) at the
    UART's rate. "limit + module busy" adds what the simulated module spends working (the
    datasheet profile's 0.25 s per Store, 2 ms per other command): the best any host could do.
    """
    n = run.n
    full = model.install() + model.verification()
    variants: list[tuple[str, float, list[Exchange]]] = [
        (f"{name}, with verification", run.total_s, full)
    ]
    if "read_template" in run.phases:
        variants.append(
            (
                f"{name}, without verification (its time minus the read-back)",
                run.total_s - run.phases["read_template"],
                model.install(),
            )
        )
    rows = []
    for title, measured, ex in variants:
        nbytes = wire_bytes(ex) * n
        limit = wire_s(nbytes)
        busy_limit = limit + sum(e.busy_s for e in ex) * n
        rows.append(
            f"| {title} | {n} | {measured:.1f} | {measured / n * 1e3:.1f} | {nbytes:,} "
            f"| {limit:.1f} | **{measured / limit:.2f}** | {busy_limit:.1f} "
            f"| {measured / busy_limit:.2f} |"
        )
    return rows


def phase_table(run: Run, model: WireModel) -> list[str]:
    """Where each write_template's time goes: measured, the simulator's floor, a real UART."""
    phases = model.driver_phases()
    measured = {
        "upload": run.phases["upload"],
        "store": run.phases["store"],
        "verify": run.phases["read_template"],
    }
    what = {
        "upload": "DownChar + 4 data packets",
        "store": "Store (flash write)",
        "verify": "LoadChar, UpChar",
    }
    rows = [
        "| phase | exchanges | measured ms | sim floor ms | of which module busy ms "
        "| real-UART estimate ms | measured - sim floor ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    tot = [0.0, 0.0, 0.0, 0.0]
    for key, ex in phases.items():
        m = measured[key] / run.n
        floor, busy, uart = sim_floor_s(ex), sum(e.busy_s for e in ex), uart_estimate_s(ex)
        for i, v in enumerate((m, floor, busy, uart)):
            tot[i] += v
        rows.append(
            f"| {key} | {what[key]} | {m * 1e3:.1f} | {floor * 1e3:.1f} | {busy * 1e3:.0f} "
            f"| {uart * 1e3:.1f} | {(m - floor) * 1e3:+.1f} |"
        )
    m, floor, busy, uart = tot
    rows.append(
        f"| **write_template** | | **{m * 1e3:.1f}** | {floor * 1e3:.1f} | {busy * 1e3:.0f} "
        f"| {uart * 1e3:.1f} | {(m - floor) * 1e3:+.1f} |"
    )
    return rows


def sync_breakdown(run: Run, model: WireModel) -> str:
    """Where a TemplateSync install's time goes, and what it adds on the wire."""
    n = run.n
    per = {k: v / n * 1e3 for k, v in run.phases.items()}
    rest = run.total_s / n * 1e3 - sum(per.values())
    phases = model.driver_phases().values()
    host = run.counts.get("host", 0) / n - sum(e.host for ex in phases for e in ex)
    module = run.counts.get("module", 0) / n - sum(e.module for ex in phases for e in ex)
    commands = run.counts.get("commands", 0) / n - sum(len(ex) for ex in phases)
    return (
        f"Per install: write_template {per.get('write_template', 0):.1f} ms, "
        f"used_slots (index table pages) {per.get('used_slots', 0):.1f} ms, "
        f"info (ReadSysPara + TempleteNum) {per.get('info', 0):.1f} ms, the rest (parameters, "
        f"opening the box, slot map and audit in the store, result) {rest:.1f} ms. "
        f"On the wire it adds {commands:.0f} commands, {host:.0f} B host -> module and "
        f"{module:.0f} B module -> host per install to write_template's "
        f"{sum(len(ex) for ex in phases)} commands and "
        f"{sum(wire_bytes(ex) for ex in phases)} B."
    )


def spread(run: Run, model: WireModel) -> str:
    """Per-call distribution, client CPU, and the bytes the simulator counted."""
    phases = model.driver_phases().values()
    host = sum(e.host for ex in phases for e in ex) * run.n
    module = sum(e.module for ex in phases for e in ex) * run.n
    same = (run.counts.get("host"), run.counts.get("module")) == (host, module)
    return (
        _per_call(run) + " Simulator saw "
        f"{run.counts.get('host', 0):,} B in, {run.counts.get('module', 0):,} B out, "
        f"{run.counts.get('commands', 0):,} commands"
        + (
            f" (write_template's model: {host:,} in, {module:,} out: {'same' if same else 'NOT'}"
            f"{'' if same else ' the same'})."
        )
    )


def _per_call(run: Run) -> str:
    """Per-call distribution and client CPU."""
    pc = run.per_call
    return (
        f"Per call: p50 {_pct(pc, 50) * 1e3:.1f} ms, p99 {_pct(pc, 99) * 1e3:.1f} ms, "
        f"max {max(pc) * 1e3:.1f} ms, mean {statistics.fmean(pc) * 1e3:.1f} ms; client CPU "
        f"{run.cpu_s / run.n * 1e3:.2f} ms per call."
    )


def _git(*args: str) -> str:
    """Output of a read-only git command, or empty when git is not there."""
    try:
        done = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 templates (under a minute)")
    parser.add_argument("-n", "--templates", type=int, help="templates to install (default 1000)")
    parser.add_argument("--sync", action="store_true", help="also run the edge/sync.py path")
    parser.add_argument("--seed", type=int, default=6, help="seed for the simulated captures")
    parser.add_argument("--sample", type=int, default=20, help="slots read back at the end")
    args = parser.parse_args(argv)
    n = args.templates or (100 if args.quick else 1000)
    capacity = model_profile(MODEL).capacity
    if not 0 < n <= capacity:
        parser.error(f"templates must be 1..{capacity} (the {MODEL}'s library)")
    started = time.perf_counter()
    load0 = os.getloadavg()
    flags = " ".join(sys.argv[1:] if argv is None else argv)

    print(f"set-up: enrolling {n} fingers on the source simulator", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    templates = source_templates(n, args.seed)
    setup_s = time.perf_counter() - t0
    sizes = {len(t) for t in templates}
    if len(sizes) != 1:
        raise RuntimeError(f"templates of several sizes: {sorted(sizes)}")
    timing = TIMINGS["datasheet"]

    print(f"1. write_template x {n} on the fresh terminal", file=sys.stderr, flush=True)
    run = run_driver(templates, args.seed + 1, args.sample)
    model = WireModel(sizes.pop(), run.packet_size, timing.command_s, timing.flash_write_s)

    sync: Run | str = "not requested (run with --sync)"
    if args.sync:
        print(f"2. TemplateSync.handle_command x {n}", file=sys.stderr, flush=True)
        # edge/sync is young: a failure there is reported and section 1's results still print.
        try:
            sync = run_sync(templates, args.seed + 3, args.sample)
        except Exception as exc:
            sync = f"failed: {type(exc).__name__}: {exc}"
    load1 = os.getloadavg()
    sync_src = ""
    if isinstance(sync, Run):
        digest = hashlib.sha256()
        for path in sorted(Path("edge/sync").glob("*.py")):
            digest.update(path.read_bytes())
        commit = _git("log", "-1", "--format=%h", "--", "edge/sync") or "not committed"
        dirty = " (with uncommitted changes)" if _git("status", "--short", "edge/sync") else ""
        sync_src = f"- edge/sync/*.py: sha256 {digest.hexdigest()[:12]}, git {commit}{dirty}"

    out = [
        "### Template install benchmark results",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"pyserial {serial.VERSION}, pyfingerprint 1.5",
        f"- load average (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
        f"at end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}",
        f"- command: `python bench/bench_templates.py{' ' + flags if flags else ''}`",
        f"- fresh terminal: `{MODEL}` profile, `datasheet` timing, {BAUD} baud, data packet "
        f"size {model.packet_size} B, template {model.template_size} B; module busy "
        f"{timing.command_s * 1e3:.0f} ms per command, {timing.flash_write_s * 1e3:.0f} ms "
        "per flash write (Store)",
        *([sync_src] if sync_src else []),
        f"- set-up (not timed): {n} fingers enrolled and read out on an `instant` source "
        f"simulator in {setup_s:.1f} s",
        "",
        "#### Bytes on the wire per template",
        "",
        *budget_table(model),
        "",
        "#### Time to install against the byte-rate limit",
        "",
        *RESULT_HEADER,
        *result_rows(run, model, "write_template"),
    ]
    if isinstance(sync, Run):
        out += result_rows(sync, model, "TemplateSync install")
    out += [
        "",
        spread(run, model),
        "",
        "#### Where the time goes, per write_template",
        "",
        "Sim floor: the module's busy time plus its module -> host bytes at 57600 baud (the "
        "simulator paces only what it sends; host -> module bytes cross the pty at once). "
        "Real-UART estimate: busy time plus every byte both ways at 57600 baud.",
        "",
        *phase_table(run, model),
        "",
        "#### Terminal install path (edge/sync.py)",
        "",
    ]
    if isinstance(sync, Run):
        out += [
            _per_call(sync),
            "",
            sync_breakdown(sync, model),
            "",
            f"**End check (TemplateSync):** {sync.check}.",
            "",
        ]
    else:
        out += [f"TemplateSync variant: {sync}.", ""]
    out += [
        f"**End check (write_template):** {run.check}.",
        "",
        f"Run took {time.perf_counter() - started:.0f} s.",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The admin socket end to end: the CLI's client over a real Unix socket, the service, the
simulator on a pty, a real store, and a JobQueue run by a thread standing in for the punch loop.

The person at the terminal is played by the progress stream: whenever the daemon says "place",
the test places the finger on the simulator; "lift", it lifts it. So these tests also prove
that the prompts reach the client in the order the person needs them.
"""

from __future__ import annotations

import grp
import io
import os
import pwd
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge import cli as edge_cli
from edge.admin import cli as admin_cli
from edge.admin.cli import ask
from edge.admin.protocol import Code, Op, Progress, Reply, Request
from edge.admin.server import AdminServer, AdminServerError
from edge.admin.service import AdminService
from edge.feedback import Feedback, FeedbackTiming
from edge.jobs import JobQueue
from edge.sensor import R307Sensor, SensorTimeout, Slot
from edge.sensor.enrollment import enroll
from edge.sensor.sim import SimulatedR307
from edge.sensor.sim.fingers import base_features, char_file
from edge.store import SlotMapping, Store
from tests.conftest import FAST
from wire.identity import mask
from wire.sync import RosterEntry, new_template_id

RINA = "198501012010012001"  # NIP PNS, female
YOHANES = "199003152015031002"  # NIP PNS, male
HADIR_EDGE = Path(sys.executable).parent / "hadir-edge"
ME = pwd.getpwuid(os.getuid()).pw_name
GREEN = 23


class StoreBook:
    """A small real TemplateBook over an edge Store, as edge/sync.py's would keep it.

    Every call asserts it runs on the sensor thread: the protocol's contract.
    """

    def __init__(self, sensor: R307Sensor, store: Store, roster: dict[str, str]) -> None:
        self.sensor = sensor
        self.store = store
        self.roster = roster
        self.owner: threading.Thread | None = None
        self.syncs = 0

    def _on_sensor_thread(self) -> None:
        assert threading.current_thread() is self.owner, "TemplateBook called off the sensor thread"

    def capacity(self) -> tuple[int, int]:
        self._on_sensor_thread()
        info = self.sensor.info()
        return info.used, info.capacity

    def free_slot(self) -> int | None:
        self._on_sensor_thread()
        taken = self.sensor.used_slots() | self.store.people.used_slots()
        _, capacity = self.capacity()
        return next((s for s in range(capacity) if s not in taken), None)

    def roster_entry(self, number: str) -> RosterEntry | None:
        self._on_sensor_thread()
        name = self.roster.get(number)
        return None if name is None else RosterEntry(number, name)

    def roster_size(self) -> int:
        self._on_sensor_thread()
        return len(self.roster)

    def record_enrollment(self, slot: int, person: str, finger: str, by: str) -> str:
        self._on_sensor_thread()
        self.store.people.map(slot, person, finger)
        self.store.audit.record("enroll", actor=by, person_id=person, slot=slot)
        return new_template_id()

    def record_deletion(self, slot: int, by: str) -> SlotMapping | None:
        self._on_sensor_thread()
        self.sensor.delete(Slot(slot))
        removed = self.store.people.unmap(slot)
        self.store.audit.record(
            "delete", actor=by, person_id=removed.person_id if removed else None, slot=slot
        )
        return removed

    def request_sync(self) -> None:
        self._on_sensor_thread()
        self.syncs += 1


class Terminal:
    """Everything of the daemon these tests need, wired as the daemon will wire it."""

    def __init__(self, sim: SimulatedR307, tmp: Path, roster: dict[str, str]) -> None:
        self.sim = sim
        self.sensor = R307Sensor(sim.port, **FAST)  # type: ignore[arg-type]
        self.store = Store(tmp / "edge.db")
        self.book = StoreBook(self.sensor, self.store, roster)
        self.jobs = JobQueue()
        self.pins = MockFactory()
        self.feedback = Feedback(
            GREEN, 24, 25, 18, pin_factory=self.pins, timing=FeedbackTiming(show_s=30)
        )
        self.pings = 0
        self.service = AdminService(
            self.sensor,
            self.book,
            self.jobs.submit,
            self.feedback,
            self._ping,
            people=self.store.people,
            press_timeout_s=20,
            lift_timeout_s=2,
            poll_s=0.01,
        )
        self.socket = tmp / "admin.sock"
        self.server = AdminServer(self.socket, None, self.service)
        self._stop = threading.Event()
        self.loop = threading.Thread(target=self._punch_loop, name="sensor", daemon=True)
        self.book.owner = self.loop

    def _ping(self) -> None:
        self.pings += 1

    def _punch_loop(self) -> None:
        # Stands in for the daemon's punch loop: it owns the sensor and runs jobs between
        # presses (here there are no presses of its own).
        while not self._stop.is_set():
            self.jobs.run_pending()
            time.sleep(0.005)

    def start(self) -> Terminal:
        self.loop.start()
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()
        self._stop.set()
        self.loop.join(timeout=5)
        self.feedback.close()
        self.pins.close()
        self.sensor.close()
        self.store.close()

    def fill(self, count: int) -> None:
        """Put ``count`` templates of strangers into the library (a busy office's terminal)."""
        for i in range(count):
            features = char_file(base_features(f"filler-{i}"))
            self.sensor.write_template(Slot(i), features + features)


def person(sim: SimulatedR307, finger: str, steps: list[str]) -> Callable[[Progress], None]:
    """Follows the prompts arriving over the socket: places ``finger`` or lifts it."""

    def on_progress(progress: Progress) -> None:
        steps.append(progress.step)
        if progress.step in ("place", "place-again"):
            sim.place(finger)
        elif progress.step in ("lift", "retry"):
            sim.lift()

    return on_progress


def ignore(_: Progress) -> None:
    return None


@pytest.fixture
def terminal(sim: SimulatedR307, tmp_path: Path) -> Iterator[Terminal]:
    t = Terminal(sim, tmp_path, {RINA: "Rina Bili", YOHANES: "Yohanes Nope"}).start()
    yield t
    t.close()


@pytest.fixture
def zfm20() -> Iterator[SimulatedR307]:
    """The smallest library of the family (162 slots), to fill it quickly."""
    with SimulatedR307("zfm20", "instant", seed=7) as s:
        yield s


@pytest.fixture
def small_terminal(zfm20: SimulatedR307, tmp_path: Path) -> Iterator[Terminal]:
    t = Terminal(zfm20, tmp_path, {RINA: "Rina Bili"}).start()
    yield t
    t.close()


def enroll_via_socket(t: Terminal, number: str, finger: str, who: str) -> tuple[Reply, list[str]]:
    steps: list[str] = []
    reply = ask(str(t.socket), Request(Op.ENROLL, number, finger), person(t.sim, who, steps))
    t.sim.lift()
    return reply, steps


# -- enroll ----------------------------------------------------------------------------------


def test_admin_enroll_end_to_end_streams_prompts_and_records(terminal: Terminal) -> None:
    lines: list[Progress] = []
    steps: list[str] = []
    act = person(terminal.sim, "rina", steps)

    def on_progress(progress: Progress) -> None:
        lines.append(progress)
        act(progress)

    reply = ask(
        str(terminal.socket),
        Request(Op.ENROLL, "19850101 201001 2 001", "right-index"),  # typed with spaces
        on_progress,
    )

    assert reply.ok, reply.text
    assert reply.code is Code.OK
    assert reply.data["slot"] == 0
    assert reply.data["number"] == RINA
    assert isinstance(reply.data["score"], int) and reply.data["score"] >= 50
    assert isinstance(reply.data["template_id"], str) and len(reply.data["template_id"]) == 36
    assert "warning" not in reply.data
    assert "telunjuk kanan" in reply.text and "Rina Bili" in reply.text
    # The person was walked through three presses, the success announced after recording.
    assert steps == ["info", "place", "lift", "place-again", "lift", "place-again", "done", "lift"]
    assert lines[1].text.startswith("Letakkan jari") and "(Place your finger" in lines[1].text
    # Stored in the module, mapped and audited under the caller's login (SO_PEERCRED).
    assert terminal.sim.library() == {0: "rina"}
    assert terminal.store.people.lookup(0) is not None
    assert terminal.store.people.slots_of(RINA)[0].finger == "right-index"
    audit = terminal.store.audit.recent()
    assert [(a.action, a.actor, a.slot) for a in audit] == [("enroll", ME, 0)]
    # Waiting for the presses pinged the watchdog; green now means "stored".
    assert terminal.pings > 0
    assert terminal.pins.pin(GREEN).state
    # Each "lift" was a beep at the glass (two after presses, one after "done" with the green).
    beeps = sum(1 for st in terminal.pins.pin(18).states[1:] if st.state)
    assert beeps >= 3


def test_admin_enroll_log_masks_the_number(
    terminal: Terminal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="edge.admin")
    reply, _ = enroll_via_socket(terminal, RINA, "right-index", "rina")
    assert reply.ok
    assert RINA not in caplog.text
    assert f"person={mask(RINA)}" in caplog.text


def test_admin_enroll_refuses_a_finger_already_enrolled(terminal: Terminal) -> None:
    first, _ = enroll_via_socket(terminal, RINA, "right-index", "rina")
    assert first.ok

    reply, steps = enroll_via_socket(terminal, YOHANES, "left-thumb", "rina")

    assert not reply.ok
    assert reply.code is Code.DUPLICATE
    assert reply.data["slot"] == 0
    assert reply.data["number"] == RINA  # who holds it, from the slot map and the roster
    assert "Rina Bili" in reply.text and "already enrolled" in reply.text
    assert steps[:2] == ["info", "place"]
    assert terminal.sim.library() == {0: "rina"}
    assert terminal.store.people.slots_of(YOHANES) == []


def test_admin_enroll_refuses_a_full_library_before_any_press(
    small_terminal: Terminal,
) -> None:
    small_terminal.fill(162)
    reply, steps = enroll_via_socket(small_terminal, RINA, "right-index", "rina")

    assert not reply.ok
    assert reply.code is Code.LIBRARY_FULL
    assert "penuh" in reply.text and "full" in reply.text
    assert steps == []  # nobody was asked to press
    assert small_terminal.store.people.mappings() == []


def test_admin_enroll_warns_from_90_percent_and_proceeds(small_terminal: Terminal) -> None:
    small_terminal.fill(146)  # 146/162 = 90.1 %
    reply, steps = enroll_via_socket(small_terminal, RINA, "right-index", "rina")

    assert reply.ok, reply.text
    assert steps[0] == "warning"
    assert reply.data["slot"] == 146
    warning = reply.data["warning"]
    assert isinstance(warning, str) and "90%" in warning and "full" in warning


def test_admin_enroll_just_below_90_percent_does_not_warn(small_terminal: Terminal) -> None:
    small_terminal.fill(145)  # 89.5 %
    reply, steps = enroll_via_socket(small_terminal, RINA, "right-index", "rina")
    assert reply.ok
    assert "warning" not in steps


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("198501012010012000", "nomor urut 000"),  # sequence 000
        ("198513012010012001", "tanggal lahir"),  # month 13
        ("19850101201001200", "harus 18"),  # 17 digits
        ("3271012001850001", "NIK"),  # 16 digits: a NIK, never an identifier
        ("PTT@2019", "format"),  # a local register number of unknown characters
    ],
)
def test_admin_enroll_refuses_an_invalid_number(terminal: Terminal, number: str, says: str) -> None:
    reply, steps = enroll_via_socket(terminal, number, "right-index", "rina")
    assert reply.code is Code.INVALID_NUMBER
    assert says in reply.text
    assert steps == []


def test_admin_enroll_refuses_an_unknown_finger_label(terminal: Terminal) -> None:
    reply, _ = enroll_via_socket(terminal, RINA, "right-pinky", "rina")
    assert reply.code is Code.INVALID_FINGER
    assert "right-little (kelingking kanan)" in reply.text


def test_admin_enroll_refuses_a_person_not_in_the_roster(terminal: Terminal) -> None:
    reply, steps = enroll_via_socket(terminal, "198701012012011003", "right-index", "rina")
    assert reply.code is Code.NOT_IN_ROSTER
    assert "198701012012011003" in reply.text  # shown in full to the technician who typed it
    assert "not in this terminal's roster" in reply.text
    assert steps == []


def test_admin_enroll_says_when_no_roster_has_arrived(terminal: Terminal) -> None:
    terminal.book.roster.clear()
    reply, _ = enroll_via_socket(terminal, RINA, "right-index", "rina")
    assert reply.code is Code.NO_ROSTER
    assert "has not sent the roster" in reply.text


def test_admin_enroll_third_press_of_another_finger_stores_nothing(terminal: Terminal) -> None:
    presses = iter(["rina", "rina", "sari"])

    def on_progress(progress: Progress) -> None:
        if progress.step in ("place", "place-again"):
            terminal.sim.place(next(presses))
        elif progress.step == "lift":
            terminal.sim.lift()

    reply = ask(str(terminal.socket), Request(Op.ENROLL, RINA, "right-index"), on_progress)
    assert reply.code is Code.MISMATCH
    assert terminal.sim.library() == {}
    assert terminal.store.people.mappings() == []


def test_admin_client_disconnect_cancels_the_enrollment(terminal: Terminal) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(terminal.socket))
        conn.sendall(Request(Op.ENROLL, RINA, "right-index").to_line())
        received = b""
        while b'"step":"place"' not in received:
            chunk = conn.recv(4096)
            assert chunk, "daemon closed before asking for the finger"
            received += chunk
        # The technician presses Ctrl-C while the person is still on the way to the sensor.
    started = time.monotonic()
    # The sensor thread is free again long before the 20 s press timeout: the job stopped.
    reply = ask(str(terminal.socket), Request(Op.INFO), ignore)
    assert reply.ok
    assert time.monotonic() - started < 3
    terminal.sim.place("rina")  # too late: nobody is waiting for it
    assert terminal.sim.library() == {}
    assert terminal.store.people.mappings() == []
    assert terminal.store.audit.recent() == []


# -- verify, delete, list, info, sync ----------------------------------------------------------


def test_admin_verify_identifies_the_person(terminal: Terminal) -> None:
    assert enroll_via_socket(terminal, RINA, "right-index", "rina")[0].ok
    assert enroll_via_socket(terminal, YOHANES, "left-thumb", "yohanes")[0].ok

    steps: list[str] = []
    reply = ask(str(terminal.socket), Request(Op.VERIFY), person(terminal.sim, "yohanes", steps))

    assert reply.ok
    assert reply.data["number"] == YOHANES
    assert reply.data["finger"] == "left-thumb"
    assert reply.data["slot"] == 1
    assert isinstance(reply.data["score"], int) and reply.data["score"] >= 50
    assert "Yohanes Nope" in reply.text and "ibu jari kiri" in reply.text


def test_admin_verify_unknown_finger(terminal: Terminal) -> None:
    steps: list[str] = []
    reply = ask(str(terminal.socket), Request(Op.VERIFY), person(terminal.sim, "stranger", steps))
    assert reply.code is Code.UNKNOWN_FINGER
    assert "not recognised" in reply.text


def test_admin_delete_one_finger_then_all(terminal: Terminal) -> None:
    for finger, who in [("right-index", "rina"), ("right-thumb", "rina-thumb")]:
        assert enroll_via_socket(terminal, RINA, finger, who)[0].ok
    assert enroll_via_socket(terminal, YOHANES, "left-thumb", "yohanes")[0].ok

    one = ask(str(terminal.socket), Request(Op.DELETE, RINA, "right-thumb"), ignore)
    assert one.ok, one.text
    assert one.data["deleted"] == [{"slot": 1, "number": RINA, "finger": "right-thumb"}]
    assert sorted(terminal.sim.library()) == [0, 2]

    rest = ask(str(terminal.socket), Request(Op.DELETE, RINA), ignore)
    assert rest.ok
    assert terminal.store.people.slots_of(RINA) == []
    assert sorted(terminal.sim.library()) == [2]
    assert [a.action for a in terminal.store.audit.recent()][:2] == ["delete", "delete"]

    again = ask(str(terminal.socket), Request(Op.DELETE, RINA), ignore)
    assert again.code is Code.NOT_ENROLLED


def test_admin_list_info_and_sync(terminal: Terminal) -> None:
    assert enroll_via_socket(terminal, RINA, "right-index", "rina")[0].ok

    listing = ask(str(terminal.socket), Request(Op.LIST), ignore)
    assert listing.ok
    entries = listing.data["entries"]
    assert isinstance(entries, list) and len(entries) == 1
    assert isinstance(entries[0], dict)
    assert (entries[0]["slot"], entries[0]["number"], entries[0]["name"]) == (0, RINA, "Rina Bili")
    assert listing.data["unmapped_slots"] == []

    info = ask(str(terminal.socket), Request(Op.INFO), ignore)
    assert info.ok
    assert (info.data["used"], info.data["capacity"], info.data["roster"]) == (1, 1000, 2)
    assert info.data["mapped"] == 1
    assert info.data["percent"] == 0

    sync = ask(str(terminal.socket), Request(Op.SYNC), ignore)
    assert sync.ok
    assert terminal.book.syncs == 1


def test_admin_never_sends_template_bytes(terminal: Terminal) -> None:
    reply, _ = enroll_via_socket(terminal, RINA, "right-index", "rina")
    template = terminal.sensor.read_template(Slot(0))
    listing = ask(str(terminal.socket), Request(Op.LIST), ignore)
    for message in (reply, listing):
        line = message.to_line()
        assert template.hex().encode() not in line
        assert len(line) < 2000


# -- the socket itself -------------------------------------------------------------------------


def test_admin_socket_is_0660_and_takes_the_group(sim: SimulatedR307, tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    t = Terminal(sim, tmp_path, {})
    t.server = AdminServer(t.socket, group, t.service)
    t.start()
    try:
        st = os.stat(t.socket)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == os.getgid()
    finally:
        t.close()
    assert not t.socket.exists()  # close() removes it


def test_admin_socket_unknown_group_is_a_clear_error(terminal: Terminal, tmp_path: Path) -> None:
    with pytest.raises(AdminServerError, match="groupadd"):
        AdminServer(tmp_path / "other.sock", "no-such-group-hadir", terminal.service).start()


def test_admin_socket_replaces_a_stale_file_but_not_a_live_daemon(
    terminal: Terminal, tmp_path: Path
) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(stale))  # a daemon that died and left its socket behind
    server = AdminServer(stale, None, terminal.service).start()
    try:
        assert ask(str(stale), Request(Op.INFO), ignore).ok
    finally:
        server.close()

    with pytest.raises(AdminServerError, match="another daemon"):
        AdminServer(terminal.socket, None, terminal.service).start()
    plain = tmp_path / "notes.txt"
    plain.write_text("not a socket")
    with pytest.raises(AdminServerError, match="not a socket"):
        AdminServer(plain, None, terminal.service).start()
    assert plain.read_text() == "not a socket"


def test_admin_socket_answers_a_bad_request_and_survives(terminal: Terminal) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(terminal.socket))
        conn.sendall(b"x" * 5000 + b"\n")
        answer = conn.recv(4096)
    assert b'"code":"bad-request"' in answer
    assert ask(str(terminal.socket), Request(Op.INFO), ignore).ok


# -- the poll hook of the module-level enrollment ------------------------------------------------


def test_enroll_poll_hook_runs_while_waiting_and_can_abort(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    calls = [0]

    class Gone(Exception):
        pass

    def poll() -> None:
        calls[0] += 1
        if calls[0] >= 5:
            raise Gone

    with pytest.raises(Gone):
        enroll(sensor, Slot(3), timeout_s=5, poll_s=0.01, poll=poll)
    assert sensor.used_slots() == frozenset()
    with pytest.raises(SensorTimeout):
        enroll(sensor, Slot(3), timeout_s=0.05, poll_s=0.01, poll=lambda: None)


# -- the command line, as a technician runs it -------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADIR_EDGE), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_cli_exit_codes(terminal: Terminal) -> None:
    sock = str(terminal.socket)
    info = run_cli("info", "--socket", sock)
    assert info.returncode == 0, info.stderr
    assert "Library 0 of 1000" in info.stdout

    refused = run_cli("enroll", "198501012010012000", "right-index", "--socket", sock)
    assert refused.returncode == 1
    assert "nomor urut 000" in refused.stderr

    listing = run_cli("list", "--json", "--socket", sock)
    assert listing.returncode == 0
    assert '"entries": []' in listing.stdout


def test_cli_says_the_daemon_is_not_running(tmp_path: Path) -> None:
    missing = run_cli("list", "--socket", str(tmp_path / "admin.sock"))
    assert missing.returncode == 2
    assert "tidak berjalan" in missing.stderr and "is not running" in missing.stderr
    assert "systemctl start hadir-edge" in missing.stderr

    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(stale))
    refused = run_cli("sync", "--socket", str(stale))
    assert refused.returncode == 2
    assert "refuses connections" in refused.stderr


def run_as(uid: int, gid: int, groups: list[int], argv: list[str]) -> tuple[int, str]:
    """Run the CLI's ``main`` in a forked child with another identity; its code and stderr.

    Forked rather than exec'd: the interpreter may live where that user cannot read (a
    pyenv under /root), and the point is only the socket's permission check.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read_end)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            err = io.StringIO()
            args = edge_cli._parser().parse_args(argv)
            code = admin_cli.run(args, out=io.StringIO(), err=err)
            os.write(write_end, err.getvalue().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        stderr = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stderr


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_cli_permission_denied_names_the_group(terminal: Terminal) -> None:
    # A socket 0660 root:nogroup, in a directory anyone may traverse (pytest's tmp is 0700):
    # "nobody" outside that group may not connect, inside it may.
    nogroup = grp.getgrnam("nogroup").gr_gid
    with tempfile.TemporaryDirectory(prefix="hadir-admin-") as run_dir:
        os.chmod(run_dir, 0o755)  # noqa: S103 - traversable, like /run/hadir
        path = Path(run_dir) / "admin.sock"
        server = AdminServer(path, "nogroup", terminal.service).start()
        try:
            assert os.stat(path).st_gid == nogroup
            argv = ["info", "--socket", str(path)]

            code, stderr = run_as(65534, 1, [], argv)
            assert code == 2, stderr
            assert "grup hadir-admin" in stderr
            assert "add your user to the hadir-admin group" in stderr

            code, stderr = run_as(65534, 1, [nogroup], argv)
            assert code == 0, stderr
        finally:
            server.close()

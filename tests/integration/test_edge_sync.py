"""Template sync end to end: simulator → daemon (subprocess) → real mosquitto → a stand-in central.

The central's template side is being built alongside; a paho client plays its part of the
contract here (wire.sync): it reads inventories and reports on ``.../templates``, sends commands
on ``.../cmd`` and reads the answers on ``.../cmd/result``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import SystemClock
from edge.sensor import CharBuffer, R307Sensor, Slot
from edge.sensor.sim import SimulatedR307
from edge.store import Store
from edge.sync import TemplateSync
from tests.integration.broker import Broker
from tests.integration.conftest import wait_until
from tests.integration.edge_daemon import COMMITTED, DaemonProcess, enroll, write_config
from wire import Action, Command, CommandResult, decode_command_result, encode, topics
from wire.sealing import (
    b64,
    load_or_create_private_key,
    open_sealed,
    parse_public_key,
    public_key_text,
    seal,
    unb64,
)
from wire.sync import (
    Enrolled,
    Install,
    Inventory,
    TemplateMessage,
    decode_template_message,
    install_command,
    new_template_id,
    template_command,
)
from wire.topics import DeviceId

pytestmark = pytest.mark.integration
DEVICE = "kupang-sync-01"
NIP = "198501012010011001"


class FakeCentral:
    """The central's side of the template contract, as a plain MQTT client."""

    def __init__(self, port: int) -> None:
        self.key = X25519PrivateKey.generate()
        self.messages: queue.Queue[TemplateMessage] = queue.Queue()
        self.results: dict[str, CommandResult] = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-central")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(topics.templates(DEVICE), qos=1)
            client.subscribe(topics.cmd_result(DEVICE), qos=1)
            self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == topics.cmd_result(DEVICE):
            result = decode_command_result(msg.payload)
            self.results[result.id] = result
        else:
            self.messages.put(decode_template_message(msg.payload, topic_device=DEVICE))

    def next(self, kind: type[Any], timeout_s: float = 15, where: Any = lambda _: True) -> Any:
        """The next message of ``kind`` that ``where`` accepts (others are skipped)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(message, kind) and where(message):
                return message
        raise AssertionError(f"no {kind.__name__} within {timeout_s} s")

    def drain(self) -> None:
        """Forget what arrived so far (a restart must be judged by what it sends)."""
        while not self.messages.empty():
            self.messages.get()

    def send(self, command: Command) -> None:
        self.client.publish(topics.cmd(DEVICE), encode(command), qos=1)

    def ask(self, command: Command, timeout_s: float = 15) -> CommandResult:
        self.send(command)
        wait_until(lambda: command.id in self.results, timeout_s, f"result of {command.action}")
        return self.results[command.id]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sim() -> Iterator[SimulatedR307]:
    with SimulatedR307("r307", "instant", seed=13) as s:
        yield s


@pytest.fixture
def central(broker: Broker) -> Iterator[FakeCentral]:
    c = FakeCentral(broker.port)
    assert c.connected.wait(10)
    yield c
    c.close()


def template_of(finger: str) -> bytes:
    """A real template of a simulated finger, made on another module (another terminal)."""
    with SimulatedR307("r307", "instant", seed=17) as other:
        drv = R307Sensor(other.port, timeout_s=0.5)
        for buf in (CharBuffer.ONE, CharBuffer.TWO):
            other.place(finger)
            drv.read_image()
            drv.extract(buf)
        drv.merge()
        drv.store(Slot(0))
        template = drv.read_template(Slot(0))
        drv.close()
    return template


def daemon_config(tmp_path: Path, sim: SimulatedR307, broker: Broker, central_key: str) -> Path:
    config = write_config(
        tmp_path / "edge.toml",
        device=DEVICE,
        state=tmp_path / "state",
        port=sim.port,
        broker_port=broker.port,
    )
    with config.open("a") as f:
        f.write(f'\n[sync]\ncentral_key = "{central_key}"\n')
        f.write(f'\n[admin]\nsocket = "{tmp_path / "admin.sock"}"\n')
    return config


def test_edge_sync_install_punch_delete_and_bad_commands(
    tmp_path: Path, sim: SimulatedR307, broker: Broker, central: FakeCentral
) -> None:
    config = daemon_config(tmp_path, sim, broker, public_key_text(central.key))
    daemon = DaemonProcess(config)
    daemon.start()
    try:
        first = central.next(Inventory)
        assert (first.have, first.used, first.capacity) == ((), 0, 1000)
        assert (tmp_path / "state" / "template.key").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "admin.sock").is_socket()  # the technician's socket is served
        terminal_key = parse_public_key(first.public_key)
        # Install alice's right index, sealed to this terminal.
        template_id = new_template_id()
        box = b64(seal(template_of("alice"), terminal_key, template_id))
        install = install_command(Install(template_id, NIP, "right-index", box))
        result = central.ask(install)
        assert (result.ok, result.detail) == (True, "installed in slot 0")
        assert list(sim.model.library()) == [0]
        # Pressing that finger on this terminal is a punch of that person.
        sim.place("alice")
        found = daemon.wait_for(COMMITTED, 10)
        assert found is not None and found.group(3) == NIP
        sim.lift()
        # The same command again (the central repeats what it has no answer for).
        again = central.ask(Command(new_template_id(), install.action, install.params))
        assert (again.ok, again.detail) == (True, "already installed in slot 0")
        assert central.ask(Command(new_template_id(), Action.RESYNC)).ok
        central.next(Inventory, where=lambda m: m.have == (template_id,))
        # Commands the terminal cannot carry out, or cannot even read: an answer, no crash.
        bad_id = new_template_id()
        central.client.publish(
            topics.cmd(DEVICE), f'{{"v":1,"id":"{bad_id}","action":"format_disk"}}', qos=1
        )
        central.client.publish(topics.cmd(DEVICE), b"\xff not json", qos=1)
        wait_until(lambda: bad_id in central.results, 10, "the bad command's result")
        assert not central.results[bad_id].ok
        assert "action" in central.results[bad_id].detail
        reload = central.ask(Command(new_template_id(), Action.RELOAD_CONFIG))
        assert not reload.ok and "not supported" in reload.detail
        # Delete, twice.
        delete = central.ask(template_command(Action.DELETE_TEMPLATE, template_id))
        assert (delete.ok, delete.detail) == (True, "deleted from slot 0")
        assert sim.model.library() == {}
        repeat = central.ask(template_command(Action.DELETE_TEMPLATE, template_id))
        assert (repeat.ok, repeat.detail) == (True, "not held here")
        assert daemon.alive()
        assert box not in "\n".join(daemon.log)
    finally:
        assert daemon.terminate() == 0
    with Store(tmp_path / "state" / "edge.db") as store:
        assert store.templates.all() == []
        actions = [e.action for e in reversed(store.audit.recent())]
        assert actions == ["install", "delete"]


def test_edge_sync_report_is_resent_after_broker_restart_until_received(
    tmp_path: Path, sim: SimulatedR307, broker: Broker, central: FakeCentral
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    # A technician enrolled a finger here (what the admin socket's enroll ends with).
    drv = R307Sensor(sim.port, timeout_s=0.5)
    with Store(state / "edge.db") as store:
        book = TemplateSync(
            drv,
            store,
            clock=SystemClock(),
            device=DeviceId(DEVICE),
            central_key=central.key.public_key(),
            private_key=load_or_create_private_key(state / "template.key"),
        )
        for buf in (CharBuffer.ONE, CharBuffer.TWO):
            sim.place("budi")
            drv.read_image()
            drv.extract(buf)
        sim.lift()
        drv.merge()
        drv.store(Slot(0))
        template_id = book.record_enrollment(0, NIP, "left-index", "teknisi1")
        expected = drv.read_template(Slot(0))
    drv.close()
    daemon = DaemonProcess(daemon_config(tmp_path, sim, broker, public_key_text(central.key)))
    daemon.start()
    try:
        report = central.next(Enrolled)
        assert (report.id, report.person, report.by) == (template_id, NIP, "teknisi1")
        assert open_sealed(unb64(report.sealed, "sealed"), central.key, template_id) == expected
        central.next(Inventory, where=lambda m: m.have == (template_id,))
        # The broker dies before the central could answer: the report comes again.
        broker.kill()
        broker.start()
        again = central.next(Enrolled, timeout_s=20)
        assert again.id == template_id
        received = central.ask(template_command(Action.TEMPLATE_RECEIVED, template_id))
        assert (received.ok, received.detail) == (True, "report dropped")
        # Confirmed: the next connect sends an inventory, and no report.
        broker.kill()
        broker.start()
        central.next(Inventory, timeout_s=20)
        time.sleep(1)
        with pytest.raises(AssertionError):
            central.next(Enrolled, timeout_s=1)
    finally:
        assert daemon.terminate() == 0
    with Store(state / "edge.db") as store:
        assert store.templates.report_count() == 0


def test_edge_sync_replaced_module_is_reconciled_at_start(
    tmp_path: Path, sim: SimulatedR307, broker: Broker, central: FakeCentral
) -> None:
    config = daemon_config(tmp_path, sim, broker, public_key_text(central.key))
    daemon = DaemonProcess(config)
    daemon.start()
    try:
        terminal_key = parse_public_key(central.next(Inventory).public_key)
        template_id = new_template_id()
        box = b64(seal(template_of("citra"), terminal_key, template_id))
        assert central.ask(install_command(Install(template_id, NIP, "right-thumb", box))).ok
    finally:
        assert daemon.terminate() == 0
    # A technician swaps the module for a new, empty one and restarts the terminal.
    central.drain()
    with SimulatedR307("r307", "instant", seed=19) as fresh:
        daemon = DaemonProcess(daemon_config(tmp_path, fresh, broker, public_key_text(central.key)))
        daemon.start()
        try:
            inventory = central.next(Inventory)
            assert (inventory.have, inventory.used) == ((), 0)
        finally:
            assert daemon.terminate() == 0
    with Store(tmp_path / "state" / "edge.db") as store:
        assert store.templates.all() == []
        assert store.audit.recent()[0].action == "reconcile"


def test_edge_sync_without_central_key_still_punches(
    tmp_path: Path, sim: SimulatedR307, broker: Broker
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    enroll(sim, state / "edge.db", [NIP])  # mapped before template sync: no template id
    config = write_config(
        tmp_path / "edge.toml", device=DEVICE, state=state, port=sim.port, broker_port=broker.port
    )
    daemon = DaemonProcess(config)
    daemon.start()
    try:
        sim.place(NIP)
        found = daemon.wait_for(COMMITTED, 10)
        assert found is not None and found.group(3) == NIP
        sim.lift()
        assert sum("template sync off" in line for line in daemon.log) == 1
    finally:
        assert daemon.terminate() == 0
    with Store(state / "edge.db") as store:
        # The pre-sync mapping survived reconciliation: its slot is explained.
        assert [t.slot for t in store.templates.all()] == [0]

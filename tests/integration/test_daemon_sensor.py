"""The daemon in-process with gpiozero's MockFactory: the module unplugged and back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load
from edge.daemon import Daemon
from edge.sensor.sim import SimulatedR307
from tests.integration.broker import Broker
from tests.integration.conftest import CentralUnderTest, wait_until
from tests.integration.edge_daemon import enroll, write_config
from wire import Status, decode_status

pytestmark = pytest.mark.integration
DEVICE = "kupang-test-02"


class StatusWatcher:
    def __init__(self, port: int) -> None:
        self.latest: Status | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="status-watcher")
        self.client.on_connect = lambda c, *_: c.subscribe("hadir/v1/dev/+/status", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.latest = decode_status(msg.payload)

    def sensor(self) -> str | None:
        return None if self.latest is None else self.latest.sensor

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def red_blinking(daemon: Daemon) -> bool:
    red = daemon.feedback._red
    states = [s.state for s in red.pin.states[-6:]]
    return True in states and False in states


def test_daemon_unplugged_module_shows_and_recovers(
    tmp_path: Path, broker: Broker, central: CentralUnderTest
) -> None:
    central.register(DEVICE)
    with SimulatedR307("r307", "instant", seed=3) as sim:
        state = tmp_path / "state"
        state.mkdir()
        enroll(sim, state / "edge.db", ["199001012015011001"])
        config = load(
            write_config(
                tmp_path / "edge.toml",
                device=DEVICE,
                state=state,
                port=sim.port,
                broker_port=broker.port,
            )
        )
        daemon = Daemon(config)
        runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
        runner.start()
        watcher = StatusWatcher(broker.port)
        try:
            wait_until(lambda: watcher.sensor() == "ok", 10, "a heartbeat with sensor ok")
            assert watcher.latest is not None and watcher.latest.templates_capacity == 1000
            sim.unplug()
            wait_until(lambda: watcher.sensor() == "offline", 10, "the heartbeat saying offline")
            assert daemon.feedback.has_sensor_fault
            wait_until(lambda: red_blinking(daemon), 5, "the red LED blinking")
            time.sleep(1.0)  # offline for a while; the daemon keeps running
            assert runner.is_alive()
            sim.replug()
            wait_until(lambda: watcher.sensor() == "ok", 15, "the heartbeat back to ok")
            assert not daemon.feedback.has_sensor_fault
            sim.place("199001012015011001")
            wait_until(lambda: len(central.punches(DEVICE)) == 1, 10, "a punch after recovery")
            sim.lift()
        finally:
            watcher.close()
            daemon.stop()
            runner.join(timeout=20)
        assert not runner.is_alive()

"""Template sync through a real mosquitto and the real collector, paho clients as terminals."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from central.cli import main as central_main
from central.collector import BrokerSettings, Collector
from central.schema import dead_letter, template
from tests.integration.broker import Broker
from tests.integration.central_fixture import engine_for
from tests.integration.conftest import wait_until
from tests.unit.central.test_templates_helpers import (
    ANI,
    PLAIN,
    World,
    build,
    enrolled,
    inventory,
    states,
)
from wire import Action, Command, CommandResult, decode_command, encode, topics
from wire.sealing import SealError, open_sealed, unb64
from wire.sync import Install, template_of

pytestmark = pytest.mark.integration


class Terminal:
    """A fake terminal: publishes on its topics, collects the commands sent to it."""

    def __init__(self, port: int, dev: str) -> None:
        self.dev = dev
        self.commands: queue.Queue[Command] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{dev}-{uuid.uuid4().hex[:6]}"
        )
        self.client.on_message = lambda _c, _u, m: self.commands.put(decode_command(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.cmd(dev), qos=1)
        self.client.loop_start()

    def send(self, message: object) -> None:
        self.client.publish(topics.templates(self.dev), encode(message), qos=1).wait_for_publish(5)  # type: ignore[arg-type]

    def answer(self, command: Command, ok: bool = True, detail: str = "") -> None:
        self.client.publish(
            topics.cmd_result(self.dev), encode(CommandResult(command.id, ok, detail)), qos=1
        ).wait_for_publish(5)

    def next(self, action: Action, timeout_s: float = 10) -> Command:
        """The next command of ``action`` (others are dropped)."""
        while True:
            c = self.commands.get(timeout=timeout_s)
            if c.action is action:
                return c

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def city(db_url: str, broker: Broker) -> Iterator[tuple[Engine, World, Collector]]:
    engine = engine_for(db_url)
    with engine.begin() as conn:
        w = build(conn)
    c = Collector(
        engine,
        BrokerSettings(host="127.0.0.1", port=broker.port, client_id="collector-tpl"),
        central_key=w.central,
        resend_after_s=30,
    )
    c.start()
    assert c.connected.wait(10)
    yield engine, w, c
    c.stop()
    engine.dispose()


def test_enrollment_reaches_the_other_terminal_sealed_to_its_key_and_deletion_follows(
    city: tuple[Engine, World, Collector], broker: Broker, db_url: str, tmp_path: Path
) -> None:
    engine, w, _collector = city
    a, b = Terminal(broker.port, "a"), Terminal(broker.port, "b")
    try:
        # b registers its key through an inventory and gets its roster back.
        b.send(inventory(w, "b"))
        roster = b.next(Action.ROSTER)
        assert ANI in roster.params["people"]  # type: ignore[operator]
        # a enrolls a finger: a is told the report arrived, b gets the install sealed to b.
        msg = enrolled(w, "a")
        a.send(msg)
        assert template_of(a.next(Action.TEMPLATE_RECEIVED)) == msg.id
        install = b.next(Action.INSTALL_TEMPLATE)
        params = Install.of(install)
        assert (params.template, params.person) == (msg.id, ANI)
        assert open_sealed(unb64(params.sealed, "s"), w.keys["b"], msg.id) == PLAIN
        with pytest.raises(SealError):
            open_sealed(unb64(params.sealed, "s"), w.keys["a"], msg.id)
        # b answers: installed.
        b.answer(install)
        with engine.connect() as conn:
            wait_until(lambda: states(conn, msg.id).get("b") == "installed", 10, "b installed")
        # The operator deletes the finger from the CLI (another process would do the same).
        assert (
            central_main(["--db", db_url, "template", "delete", "--person", ANI, "--by", "siti"])
            == 0
        )
        assert template_of(a.next(Action.DELETE_TEMPLATE)) == msg.id
        delete_b = b.next(Action.DELETE_TEMPLATE)
        assert template_of(delete_b) == msg.id
        b.answer(delete_b)
        with engine.connect() as conn:
            wait_until(lambda: states(conn, msg.id).get("b") == "deleted", 10, "b deleted")
            assert (
                conn.execute(select(template.c.sealed).where(template.c.id == msg.id)).scalar_one()
                is None
            )
    finally:
        a.close()
        b.close()


def test_malformed_and_refused_reports_are_dead_letters_without_the_box(
    city: tuple[Engine, World, Collector], broker: Broker
) -> None:
    engine, w, collector = city
    a = Terminal(broker.port, "a")
    try:
        a.client.publish(topics.templates("a"), b'{"kind": "enrolled"}', qos=1).wait_for_publish(5)
        bad = enrolled(w, "a", person="199009132025242014")
        a.send(bad)
        assert template_of(a.next(Action.DELETE_TEMPLATE)) == bad.id
        with engine.connect() as conn:
            wait_until(
                lambda: len(conn.execute(select(dead_letter.c.id)).all()) == 2, 10, "dead letters"
            )
            rows = conn.execute(select(dead_letter.c.reason, dead_letter.c.payload)).all()
        assert any("refused" in r.reason for r in rows)
        assert all(bad.sealed.encode() not in bytes(r.payload) for r in rows)
        assert collector.counters.template_messages >= 1
    finally:
        a.close()


def test_a_template_message_the_intake_fails_on_does_not_hold_back_punches(
    city: tuple[Engine, World, Collector], broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug in the template intake (simulated: it raises for one report) must cost that one
    # message a dead letter. Before, the writer failed the message's whole group, reconnected,
    # got it redelivered and failed again, forever, holding back every punch in that group.
    from datetime import UTC, datetime

    from central.templates import intake
    from tests.integration.central_fixture import punches
    from wire import Punch, PunchBatch

    engine, w, _collector = city
    poison = enrolled(w, "a")
    real = intake.handle

    def handle(conn: object, message: object, key: object, now: object) -> object:
        if getattr(message, "id", None) == poison.id:
            raise KeyError("a bug")
        return real(conn, message, key, now)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "handle", handle)
    a = Terminal(broker.port, "a")
    try:
        a.send(poison)
        batch = PunchBatch(
            "a",  # type: ignore[arg-type]
            (Punch(1, str(uuid.uuid4()), ANI, 0, 90, datetime.now(UTC), True, "b", 1),),
        )
        a.client.publish(topics.punches("a"), encode(batch), qos=1).wait_for_publish(5)
        wait_until(lambda: [p[0] for p in punches(engine, "a")] == [1], 10, "the punch stored")
        with engine.connect() as conn:
            letters = conn.execute(
                select(dead_letter.c.reason, dead_letter.c.payload).where(
                    dead_letter.c.topic == topics.templates("a")
                )
            ).all()
        assert len(letters) == 1
        assert "KeyError" in letters[0].reason and "set aside" in letters[0].reason
        assert poison.sealed.encode() not in bytes(letters[0].payload)
        # The collector lives on: the next report is taken normally.
        again = enrolled(w, "a", finger="left-thumb")
        a.send(again)
        assert template_of(a.next(Action.TEMPLATE_RECEIVED)) == again.id
    finally:
        a.close()

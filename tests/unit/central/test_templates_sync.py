"""Inventory diff, terminal keys, rosters and the dispatcher's sealing (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine, select

from central.db import make_engine
from central.schema import device_command, device_key, device_template
from central.templates import intake
from central.templates.diff import apply_inventory, diff
from central.templates.dispatch import Dispatcher, backoff_s
from tests.unit.central.test_templates_helpers import (
    ANI,
    BUDI,
    PLAIN,
    T0,
    World,
    build,
    commands,
    enrolled,
    events,
    inventory,
    states,
)
from wire import Action, decode_command
from wire.sealing import SealError, open_sealed, public_key_text, unb64
from wire.sync import Install, roster_of, template_of


@pytest.fixture
def setup(db_url: str) -> Iterator[tuple[Engine, World]]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        w = build(conn)
    yield engine, w
    engine.dispose()


def test_diff_is_set_arithmetic() -> None:
    d = diff(desired={"a", "b", "c"}, have={"b", "c", "x", "y"}, known={"x"})
    assert (d.install, d.delete, d.upload, d.present) == (
        {"a"},
        {"x"},
        {"y"},
        {"b", "c"},
    )


def test_inventory_stores_the_key_and_answers_the_difference(setup: tuple[Engine, World]) -> None:
    engine, w = setup
    lost = str(uuid.uuid4())
    with engine.begin() as conn:
        keep, gone = enrolled(w, "a"), enrolled(w, "a", finger="left-index")
        intake.handle(conn, keep, w.central, T0)
        intake.handle(conn, gone, w.central, T0)
        intake.handle(conn, enrolled(w, "d", person=BUDI), w.central, T0)  # not for b's site
        from central.templates.store import delete_template

        delete_template(conn, gone.id, T0, by="siti", reason="test")
        # b reports: holds the deleted one, and one the central never saw; lacks `keep`.
        d = apply_inventory(conn, inventory(w, "b", (gone.id, lost)), T0)
        assert d.install == {keep.id} and d.delete == {gone.id} and d.upload == {lost}
        key = conn.execute(
            select(device_key.c.public_key).where(device_key.c.device_id == "b")
        ).scalar_one()
        assert key == public_key_text(w.keys["b"])
        assert states(conn, keep.id)["b"] == "installing"
        assert states(conn, gone.id)["b"] == "deleting"
        assert ("upload_template", lost) in commands(conn, "b")
        roster_row = conn.execute(
            select(device_command.c.id, device_command.c.params).where(
                device_command.c.device_id == "b", device_command.c.action == "roster"
            )
        ).one()
        # Now b holds keep: installed; the stale deleting row settles when b no longer has it.
        apply_inventory(conn, inventory(w, "b", (keep.id,)), T0)
        assert states(conn, keep.id)["b"] == "installed"
        assert states(conn, gone.id)["b"] == "deleted"
        acts = [e[0] for e in events(conn) if e[1] == "b"]
        assert acts.count("key-new") == 1 and acts.count("inventory") == 2
        # A new key (module or SD card replaced) is recorded.
        w.keys["b"] = X25519PrivateKey.generate()
        apply_inventory(conn, inventory(w, "b", (keep.id,)), T0)
        assert "key-changed" in [e[0] for e in events(conn) if e[1] == "b"]
    import json

    from wire import Command

    people = roster_of(Command(roster_row.id, Action.ROSTER, json.loads(roster_row.params)))
    assert [(p.number, p.name) for p in people] == [(ANI, "Ani")]


def test_a_refused_template_reported_again_is_deleted_not_asked_for(
    setup: tuple[Engine, World],
) -> None:
    engine, w = setup
    with engine.begin() as conn:
        bad = enrolled(w, "b", person="199009132025242014")
        intake.handle(conn, bad, w.central, T0)
        d = apply_inventory(conn, inventory(w, "b", (bad.id,)), T0)
        assert d.delete == {bad.id} and not d.upload
        assert commands(conn, "b").count(("delete_template", bad.id)) == 2


class Wire:
    """Collects what the dispatcher publishes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))

    def to(self, dev: str) -> list[object]:
        return [decode_command(p) for t, p in self.sent if t == f"hadir/v1/dev/{dev}/cmd"]


def test_dispatcher_reseals_to_each_terminal_and_claims_once(
    setup: tuple[Engine, World], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine, w = setup
    msg = enrolled(w, "a")
    with engine.begin() as conn:
        intake.handle(conn, msg, w.central, T0)
        apply_inventory(conn, inventory(w, "b"), T0)  # b announces its key; c has none yet
    now = [T0]
    out = Wire()
    d = Dispatcher(engine, w.central, out, resend_after_s=60, utc_now=lambda: now[0])
    d.run_once()
    installs = [c for c in out.to("b") if c.action is Action.INSTALL_TEMPLATE]  # type: ignore[attr-defined]
    assert len(installs) == 1 and out.to("c") == []
    params = Install.of(installs[0])  # type: ignore[arg-type]
    assert (params.template, params.person, params.finger) == (msg.id, ANI, "right-index")
    box = unb64(params.sealed, "sealed")
    assert open_sealed(box, w.keys["b"], msg.id) == PLAIN
    for wrong in (w.keys["c"], w.central):
        with pytest.raises(SealError):
            open_sealed(box, wrong, msg.id)
    # a got template_received; b its roster; sent once each, parameters not kept.
    assert [template_of(c) for c in out.to("a")] == [msg.id]  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert set(conn.execute(select(device_command.c.params)).scalars()) == {""}
    # Nothing is due again before the resend delay; a second dispatcher finds nothing to claim.
    before = len(out.sent)
    assert d.run_once() == 0
    assert Dispatcher(engine, w.central, out, utc_now=lambda: now[0]).run_once() == 0
    # After the delay the same command goes out again (same id: the terminal sees one command).
    now[0] = T0 + timedelta(seconds=61)
    d.run_once()
    again = [c for c in out.to("b") if c.action is Action.INSTALL_TEMPLATE]  # type: ignore[attr-defined]
    assert len(out.sent) == before + 1 and again[1].id == again[0].id  # type: ignore[attr-defined]
    # The terminal answers: installed, and nothing more is owed.
    with engine.begin() as conn:
        from wire import CommandResult

        intake.result(conn, "b", CommandResult(again[0].id, True), now[0])  # type: ignore[attr-defined]
        assert states(conn, msg.id)["b"] == "installed"
    now[0] += timedelta(hours=2)
    assert d.run_once() == 0
    # c announces its key: its install goes out, sealed to c.
    with engine.begin() as conn:
        apply_inventory(conn, inventory(w, "c"), now[0])
    d.run_once()
    to_c = [c for c in out.to("c") if c.action is Action.INSTALL_TEMPLATE]  # type: ignore[attr-defined]
    assert open_sealed(unb64(Install.of(to_c[0]).sealed, "s"), w.keys["c"], msg.id) == PLAIN  # type: ignore[arg-type]
    # No template material in any log line or audit detail.
    for text in [msg.sealed, Install.of(to_c[0]).sealed, PLAIN.hex()]:  # type: ignore[arg-type]
        assert text not in caplog.text
    with engine.connect() as conn:
        assert all(msg.sealed not in e[2] for e in events(conn))


def test_deletes_need_no_key_and_installs_without_a_number_fail(
    setup: tuple[Engine, World],
) -> None:
    engine, w = setup
    msg = enrolled(w, "a")
    with engine.begin() as conn:
        intake.handle(conn, msg, w.central, T0)
        from central.templates.store import delete_template

        delete_template(conn, msg.id, T0, by="siti", reason="test")
    out = Wire()
    Dispatcher(engine, w.central, out, utc_now=lambda: T0).run_once()
    deletes = {t for t, p in out.sent if decode_command(p).action is Action.DELETE_TEMPLATE}
    assert deletes == {"hadir/v1/dev/a/cmd", "hadir/v1/dev/b/cmd", "hadir/v1/dev/c/cmd"}
    with engine.connect() as conn:
        rows = conn.execute(select(device_template.c.attempts, device_template.c.sent_at)).all()
        assert all(r.attempts == 1 and r.sent_at is not None for r in rows)


def test_backoff_grows_to_an_hour() -> None:
    assert [backoff_s(60, n) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff_s(60, 30) == 3600


def test_dispatcher_asks_terminals_without_a_key_for_an_inventory(
    setup: tuple[Engine, World],
) -> None:
    # First start: the terminals' announcements may have gone out before the collector's
    # session existed. Those the central has no key of are asked again, once.
    engine, w = setup
    with engine.begin() as conn:
        apply_inventory(conn, inventory(w, "a"), T0)  # a is known; b, c, d are not
    out = Wire()
    d = Dispatcher(engine, w.central, out, utc_now=lambda: T0)
    assert d.ask_unannounced() == 3
    assert d.ask_unannounced() == 0  # still unsent: not queued twice
    d.run_once()
    asked = {
        dev
        for dev in ("a", "b", "c", "d")
        if any(
            c.action is Action.RESYNC
            for c in out.to(dev)  # type: ignore[attr-defined]
        )
    }
    assert asked == {"b", "c", "d"}

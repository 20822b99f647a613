"""Template intake at the central: store, replace, delete, refuse, results (SQLite, PostgreSQL)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select

from central.db import make_engine
from central.schema import device_command, template
from central.templates import intake
from central.templates.ops import delete_templates
from tests.unit.central.test_templates_helpers import (
    ANI,
    NOBODY,
    PLAIN,
    T0,
    World,
    build,
    commands,
    enrolled,
    events,
    states,
)
from wire import CommandResult
from wire.sync import Deleted


@pytest.fixture
def world(db_url: str) -> Iterator[tuple[Connection, World]]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        yield conn, build(conn)
    engine.dispose()


def test_enrollment_is_stored_sealed_and_queued_for_the_persons_terminals(
    world: tuple[Connection, World],
) -> None:
    conn, w = world
    msg = enrolled(w)
    out = intake.handle(conn, msg, w.central, T0)
    assert out.dead_letter is None and out.queued
    stored = conn.execute(select(template.c.sealed).where(template.c.id == msg.id)).scalar_one()
    assert stored == base64.b64decode(msg.sealed)  # the box as received: encrypted at rest
    assert PLAIN not in bytes(stored)
    # Ani's unit has two sites: a enrolled, b (same site) and c (other BKPPD site) install; d not.
    assert states(conn, msg.id) == {"a": "installed", "b": "installing", "c": "installing"}
    assert commands(conn, "a") == [("template_received", msg.id)]
    assert [e[0] for e in events(conn, msg.id)] == ["enrolled"]
    # Idempotent by id: a re-sent report changes nothing but is answered again.
    intake.handle(conn, msg, w.central, T0)
    assert states(conn, msg.id) == {"a": "installed", "b": "installing", "c": "installing"}
    assert commands(conn, "a") == [("template_received", msg.id)] * 2
    assert conn.execute(select(template.c.id)).scalars().all() == [msg.id]


def test_re_enrolling_a_finger_replaces_the_old_template_everywhere(
    world: tuple[Connection, World],
) -> None:
    conn, w = world
    old, new = enrolled(w, "a"), enrolled(w, "c")
    intake.handle(conn, old, w.central, T0)
    intake.handle(conn, new, w.central, T0)
    row = conn.execute(select(template).where(template.c.id == old.id)).one()
    assert row.sealed is None and row.deleted_reason == "replaced by re-enrollment"
    assert states(conn, old.id) == {"a": "deleting", "b": "deleting", "c": "deleting"}
    assert states(conn, new.id) == {"a": "installing", "b": "installing", "c": "installed"}
    assert [e[0] for e in events(conn, old.id)] == ["enrolled", "deleted", "replaced"]


def test_a_deletion_at_a_terminal_erases_the_box_and_reaches_the_others(
    world: tuple[Connection, World],
) -> None:
    conn, w = world
    msg = enrolled(w)
    intake.handle(conn, msg, w.central, T0)
    gone = Deleted("b", msg.id, ANI, "right-index", "teknisi", T0)  # type: ignore[arg-type]
    assert intake.handle(conn, gone, w.central, T0).dead_letter is None
    row = conn.execute(select(template).where(template.c.id == msg.id)).one()
    assert row.sealed is None and row.deleted_by == "teknisi@b"
    assert states(conn, msg.id) == {"a": "deleting", "b": "deleted", "c": "deleting"}
    assert ("template_received", msg.id) in commands(conn, "b")


def test_operator_delete_by_number_and_finger(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        w = build(conn)
        index, thumb = enrolled(w), enrolled(w, finger="right-thumb")
        intake.handle(conn, index, w.central, T0)
        intake.handle(conn, thumb, w.central, T0)
    ids = delete_templates(engine, ANI, by="siti", reason="left", finger="right-thumb")
    assert ids == [thumb.id]
    with engine.connect() as conn:
        assert set(states(conn, thumb.id).values()) == {"deleting"}
        assert set(states(conn, index.id).values()) == {"installed", "installing"}
        deleted = [e for e in events(conn, thumb.id) if e[0] == "deleted"]
        assert "left" in deleted[0][2] and "198609" not in deleted[0][2]  # number masked
    engine.dispose()


def test_unknown_person_is_refused_and_the_terminal_told_to_delete(
    world: tuple[Connection, World],
) -> None:
    conn, w = world
    msg = enrolled(w, person=NOBODY)
    out = intake.handle(conn, msg, w.central, T0)
    assert out.dead_letter is not None and "unknown person" in out.dead_letter
    assert conn.execute(select(template.c.id)).first() is None
    assert commands(conn, "a") == [("delete_template", msg.id), ("template_received", msg.id)]
    assert [e[0] for e in events(conn, msg.id)] == ["refused"]
    assert NOBODY not in events(conn, msg.id)[0][2]


def test_a_box_not_sealed_to_the_central_is_refused(world: tuple[Connection, World]) -> None:
    conn, w = world
    msg = enrolled(w, key=w.keys["b"])
    out = intake.handle(conn, msg, w.central, T0)
    assert out.dead_letter is not None and "does not open" in out.dead_letter
    assert conn.execute(select(template.c.id)).first() is None


def test_unknown_device_is_a_dead_letter(world: tuple[Connection, World]) -> None:
    conn, w = world
    out = intake.handle(conn, enrolled(w, dev="zz"), w.central, T0)
    assert out.dead_letter is not None and "unknown device" in out.dead_letter


def test_results_move_the_state(world: tuple[Connection, World]) -> None:
    conn, w = world
    msg = enrolled(w)
    intake.handle(conn, msg, w.central, T0)
    # The dispatcher would set the command ids; do it by hand here.
    from central.schema import device_template

    for dev, cid in (
        ("b", "11111111-1111-4111-8111-111111111111"),
        ("c", "22222222-2222-4222-8222-222222222222"),
    ):
        conn.execute(
            device_template.update()
            .where(device_template.c.device_id == dev, device_template.c.template_id == msg.id)
            .values(command_id=cid)
        )
    intake.result(conn, "b", CommandResult("11111111-1111-4111-8111-111111111111", True), T0)
    intake.result(
        conn, "c", CommandResult("22222222-2222-4222-8222-222222222222", False, "library full"), T0
    )
    assert states(conn, msg.id) == {"a": "installed", "b": "installed", "c": "failed"}
    assert ("install-failed", "c", "library full") in events(conn, msg.id)
    # A result for an outbox command is recorded on its row.
    cid = conn.execute(
        select(device_command.c.id).where(device_command.c.device_id == "a")
    ).scalar_one()
    intake.result(conn, "a", CommandResult(cid, True), T0)
    assert conn.execute(
        select(device_command.c.result_ok).where(device_command.c.id == cid)
    ).scalar_one()


def test_dead_letter_payload_of_a_template_report_holds_no_box() -> None:
    w = World()
    msg = enrolled(w)
    from wire import encode

    kept = intake.redacted(encode(msg))
    assert msg.sealed not in kept.decode()
    assert json.loads(kept)["sealed"].startswith("<removed")
    assert intake.redacted(b"\x00not json" + msg.sealed.encode()) == b""


def test_template_list_names_the_person_and_masks_the_number(
    world: tuple[Connection, World],
) -> None:
    from central.templates.report import list_templates

    conn, w = world
    msg = enrolled(w)
    intake.handle(conn, msg, w.central, T0)
    (line,) = list_templates(conn)
    assert (line.id, line.name, line.finger, line.source) == (msg.id, "Ani", "right-index", "a")
    assert line.person.endswith(ANI[-3:]) and ANI not in line.person
    assert line.states == {"a": "installed", "b": "installing", "c": "installing"}

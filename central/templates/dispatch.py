"""The dispatcher: sends what the database says is owed to the terminals.

The outbox is the database itself: ``device_template`` rows in ``installing``/``deleting`` and
unsent ``device_command`` rows. Any process may queue work (the CLI only writes rows); every
collector runs a :class:`Dispatcher` that sends it, once a second and right after a transaction
of its own that queued some. Two collectors do not both send a row: each claims it with a
conditional UPDATE (``attempts`` as the version) in its own short transaction and publishes
only after that commit. A duplicate would be harmless anyway: installs and deletes are
idempotent by template id.

Delivery: an install or delete not answered is sent again after ``resend_after_s``, doubling
up to an hour, so a terminal away for days does not collect a pile of copies in the broker;
its next inventory re-queues what it still lacks at once. Outbox commands (``template_received``,
``upload_template``, ``roster``, ``resync``, deletes of refused templates) are sent once: each
is re-derived if lost (the terminal re-sends its report, or its next inventory asks again). A
crash between the claim's commit and the publish loses that one send, with the same remedy.

To install, the central opens its own box in memory and seals the template again to the
terminal's key, bound to the template id; the plain template lives only in this function's
locals and goes nowhere else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, Engine, Row, and_, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from central.schema import device, device_command, device_key, device_template, template
from central.templates import keys, scope
from central.templates.store import PENDING, State, audit, queue_command
from wire import Action, Command, encode, topics
from wire.sealing import SealError, b64, open_sealed, seal
from wire.sync import (
    Install,
    install_command,
    new_template_id,
    resync_command,
    template_command,
)

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
MAX_BACKOFF_S = 3600.0
OUTBOX_RETENTION = timedelta(days=30)


def backoff_s(resend_after_s: float, attempts: int) -> float:
    """How long after the ``attempts``-th send an unanswered command goes out again."""
    return min(resend_after_s * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S)


class Dispatcher:
    """Sends owed installs, deletes and outbox commands through ``publish`` (QoS 1).

    Args:
        engine: the central database.
        central_key: opens the stored boxes.
        publish: ``(topic, payload)``; the collector's MQTT client.
        ready: whether sending makes sense now (the client is connected).
        resend_after_s: first resend delay of an unanswered install or delete.
        batch: rows looked at per pass and kind.
        utc_now: the clock.
    """

    def __init__(
        self,
        engine: Engine,
        central_key: X25519PrivateKey,
        publish: Publish,
        *,
        ready: Callable[[], bool] = lambda: True,
        resend_after_s: float = 60.0,
        batch: int = 200,
        utc_now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.central_key = central_key
        self.publish = publish
        self.ready = ready
        self.resend_after_s = resend_after_s
        self.batch = batch
        self.utc_now = utc_now
        self.sent = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_purge: datetime | None = None
        self._thread = threading.Thread(target=self._loop, name="template-dispatch", daemon=True)

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Send everything owed now; returns how many commands were published."""
        now = self.utc_now()
        sent = self._templates(now) + self._outbox(now)
        self._purge(now)
        self.sent += sent
        return sent

    def _templates(self, now: datetime) -> int:
        cutoff = now - timedelta(seconds=self.resend_after_s)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    device_template.c.device_id,
                    device_template.c.template_id,
                    device_template.c.state,
                    device_template.c.attempts,
                    device_template.c.command_id,
                    device_template.c.sent_at,
                )
                .outerjoin(device_key, device_key.c.device_id == device_template.c.device_id)
                .where(
                    device_template.c.state.in_(PENDING),
                    or_(device_template.c.sent_at.is_(None), device_template.c.sent_at < cutoff),
                    # An install waits for the terminal's key (its first inventory).
                    or_(
                        device_template.c.state == State.DELETING.value,
                        device_key.c.public_key.is_not(None),
                    ),
                )
                .order_by(device_template.c.sent_at.nullsfirst(), device_template.c.updated_at)
                .limit(self.batch)
            ).all()
        sent = 0
        for r in rows:
            if r.sent_at is not None and now - r.sent_at < timedelta(
                seconds=backoff_s(self.resend_after_s, int(r.attempts))
            ):
                continue
            command = self._claim(r, now)
            if command is not None:
                self.publish(topics.cmd(r.device_id), encode(command))
                sent += 1
        return sent

    def _claim(self, r: Row[Any, Any, Any, Any, Any, Any], now: datetime) -> Command | None:
        """Claim one row and build its command; None if another collector took it first."""
        dev, tid, state, attempts = (
            str(r.device_id),
            str(r.template_id),
            str(r.state),
            int(r.attempts),
        )
        cid = r.command_id or new_template_id()
        try:
            with self.engine.begin() as conn:
                claimed = conn.execute(
                    update(device_template)
                    .where(
                        device_template.c.device_id == dev,
                        device_template.c.template_id == tid,
                        device_template.c.state == state,
                        device_template.c.attempts == attempts,
                    )
                    .values(command_id=cid, sent_at=now, attempts=attempts + 1)
                ).rowcount
                if claimed != 1:
                    return None
                if state == State.DELETING.value:
                    command: Command | None = template_command(Action.DELETE_TEMPLATE, tid, cid)
                else:
                    command = self._install(conn, dev, tid, cid, now)
                if command is not None:
                    audit(
                        conn,
                        now,
                        "install-sent" if state == State.INSTALLING.value else "delete-sent",
                        actor="central",
                        template_id=tid,
                        device_id=dev,
                        detail=f"attempt {attempts + 1}, command {cid}",
                    )
                return command
        except SQLAlchemyError as exc:
            log.error(
                "dispatch claim failed device=%s template=%s error=%r", dev, tid, str(exc)[:300]
            )
            return None

    def _install(
        self, conn: Connection, dev: str, tid: str, cid: str, now: datetime
    ) -> Command | None:
        """The install for ``dev``, sealed to its key; None (row failed) if it cannot be made."""
        row = conn.execute(
            select(template.c.sealed, template.c.person_id, template.c.finger).where(
                template.c.id == tid
            )
        ).first()
        device_pub = keys.device_public_key(conn, dev)
        reason = "template erased at the central"
        if row is not None and row.sealed is not None and device_pub is not None:
            pid = int(row.person_id)
            number = scope.current_numbers(conn, [pid]).get(pid)
            reason = "person has no current number"
            if number is not None:
                try:
                    plain = open_sealed(bytes(row.sealed), self.central_key, tid)
                except SealError:
                    # The key file was replaced: every stored box is unreadable. Loud, not silent.
                    log.error("stored template does not open with the central key template=%s", tid)
                    reason = "stored template does not open with the central key"
                else:
                    box = seal(plain, device_pub, tid)
                    del plain
                    return install_command(Install(tid, number, row.finger, b64(box)), cid)
        elif device_pub is None:
            reason = "terminal key unknown"
        conn.execute(
            update(device_template)
            .where(device_template.c.device_id == dev, device_template.c.template_id == tid)
            .values(state=State.FAILED.value, detail=reason, updated_at=now)
        )
        audit(
            conn,
            now,
            "install-failed",
            actor="central",
            template_id=tid,
            device_id=dev,
            detail=reason,
        )
        return None

    def _outbox(self, now: datetime) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    device_command.c.id,
                    device_command.c.device_id,
                    device_command.c.action,
                    device_command.c.params,
                )
                .where(device_command.c.sent_at.is_(None))
                .order_by(device_command.c.created_at)
                .limit(self.batch)
            ).all()
        sent = 0
        for r in rows:
            try:
                with self.engine.begin() as conn:
                    claimed = conn.execute(
                        update(device_command)
                        .where(device_command.c.id == r.id, device_command.c.sent_at.is_(None))
                        # The parameters are not kept once sent: a roster carries names.
                        .values(sent_at=now, params="")
                    ).rowcount
            except SQLAlchemyError as exc:
                log.error("dispatch claim failed command=%s error=%r", r.id, str(exc)[:300])
                continue
            if claimed != 1:
                continue
            command = Command(id=r.id, action=Action(r.action), params=json.loads(r.params))
            self.publish(topics.cmd(r.device_id), encode(command))
            log.info("command sent device=%s action=%s command=%s", r.device_id, r.action, r.id)
            sent += 1
        return sent

    def _purge(self, now: datetime) -> None:
        if self._last_purge is not None and now - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = now
        with self.engine.begin() as conn:
            conn.execute(
                delete(device_command).where(
                    and_(
                        device_command.c.sent_at.is_not(None),
                        device_command.c.created_at < now - OUTBOX_RETENTION,
                    )
                )
            )

    # -- the thread --------------------------------------------------------------------------

    def wake(self) -> None:
        """Run a pass now (a transaction just queued work)."""
        self._wake.set()

    def ask_unannounced(self) -> int:
        """Queue a ``resync`` for every registered terminal whose key the central lacks.

        A terminal announces itself (inventory, key) when it connects. On a deployment's very
        first start the collector may subscribe after the terminals did, and the broker keeps
        nothing for a session that did not exist yet; without this, those terminals would wait
        for their hourly inventory before anything is installed on them.

        Returns:
            How many were queued (a terminal with a resync still unsent gets no second one).
        """
        now = self.utc_now()
        with self.engine.begin() as conn:
            waiting = select(device_command.c.device_id).where(
                device_command.c.action == Action.RESYNC.value, device_command.c.sent_at.is_(None)
            )
            quiet = (
                conn.execute(
                    select(device.c.id)
                    .outerjoin(device_key, device_key.c.device_id == device.c.id)
                    .where(device_key.c.device_id.is_(None), device.c.id.not_in(waiting))
                )
                .scalars()
                .all()
            )
            for dev in quiet:
                queue_command(conn, str(dev), resync_command(), now)
        if quiet:
            log.info("resync asked of terminals without a key count=%d", len(quiet))
        return len(quiet)

    def _loop(self) -> None:
        asked = False
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self._stop.is_set() or not self.ready():
                continue
            try:
                if not asked:
                    self.ask_unannounced()
                    asked = True
                self.run_once()
            except Exception:
                # The next pass retries; the collector must not lose its dispatcher.
                log.exception("template dispatch pass failed")

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=10)

"""The central's template commands, carried out on the sensor thread.

Each command gets exactly one :class:`wire.CommandResult`; nothing a command carries can stop
the daemon. Every command is idempotent, because the central repeats what it has no answer for
and the inventory may ask again for what is under way: installing a template already held,
deleting one already gone, confirming a report already dropped all answer ``ok``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.sensor import SensorError, Slot
from edge.store import AuditNote, Report, StoreError
from edge.store.templates import DELETED, ENROLLED
from edge.sync.book import CENTRAL, SyncBook, SyncDisabled, roster_rows
from wire import Action, Command, CommandResult, MessageError, encode
from wire.sealing import SealError, b64, open_sealed, seal, unb64
from wire.sync import Enrolled, Install, roster_of, template_of

log = logging.getLogger(__name__)

_MAX_DETAIL = 1000  # CommandResult.detail's limit


class CommandFailed(Exception):
    """A command that cannot be carried out; the message is the result's detail."""


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


class TemplateSync(SyncBook):
    """The template book plus the central's commands (``handle_command``)."""

    def handle_command(self, command: Command) -> CommandResult:
        """Carry out one command from the central; never raises.

        Returns:
            ``ok=True`` with what was done, or ``ok=False`` with why not (never template
            material: errors of sealing and of the wire contract do not quote it).
        """
        handlers: dict[Action, Callable[[Command], str]] = {
            Action.INSTALL_TEMPLATE: self._install,
            Action.DELETE_TEMPLATE: self._delete,
            Action.UPLOAD_TEMPLATE: self._upload,
            Action.TEMPLATE_RECEIVED: self._received,
            Action.ROSTER: self._roster,
            Action.RESYNC: self._resync,
        }
        handler = handlers.get(command.action)
        try:
            if handler is None:
                raise CommandFailed(f"{command.action.value}: not supported by this terminal")
            detail = handler(command)
        except (CommandFailed, MessageError, SealError, SyncDisabled) as exc:
            ok, detail = False, str(exc)
        except SensorError as exc:
            ok, detail = False, f"module error: {exc}"
        except StoreError as exc:
            ok, detail = False, f"store error: {exc}"
        except Exception as exc:  # one bad command must not stop the terminal
            log.exception("command crashed id=%s action=%s", command.id, command.action.value)
            ok, detail = False, f"internal error: {type(exc).__name__}"
        else:
            ok = True
        log.log(
            logging.INFO if ok else logging.WARNING,
            "command done id=%s action=%s ok=%s detail=%r",
            command.id,
            command.action.value,
            ok,
            detail,
        )
        return CommandResult(command.id, ok, _clip(detail))

    # -- install -----------------------------------------------------------------------------

    def _install(self, command: Command) -> str:
        install = Install.of(command)
        held = self.store.templates.by_template(install.template)
        in_module = self.sensor.used_slots()
        if held is not None:
            if held.slot in in_module:
                return f"already installed in slot {held.slot}"
            # The module lost it (replaced or wiped): unmap and install afresh below.
            self.store.templates.remove(
                held.slot, audit=AuditNote("reconcile", CENTRAL, "slot empty before re-install")
            )
        box = unb64(install.sealed, "params.sealed")
        template = open_sealed(box, self.private_key, install.template)
        slot = self.free_slot(in_module)
        if slot is None:
            used, capacity = self.capacity()
            self.store.audit.record(
                "install-failed",
                actor=CENTRAL,
                person_id=install.person,
                detail=f"library full ({used}/{capacity}) template={install.template}",
            )
            raise CommandFailed(
                f"library full: {used} of {capacity} slots used; delete unused fingers "
                f"before template {install.template} can be installed"
            )
        try:
            self.sensor.write_template(Slot(slot), template)
        except SensorError as exc:
            self.store.audit.record(
                "install-failed",
                actor=CENTRAL,
                person_id=install.person,
                slot=slot,
                detail=f"module refused template={install.template}: {type(exc).__name__}",
            )
            self._clear_slot(slot, "install failed")
            raise
        finally:
            del template
        try:
            replaced = self.store.templates.put(
                slot,
                install.person,
                install.finger,
                install.template,
                enrolled_by=CENTRAL,
                audit=AuditNote("install", CENTRAL, f"template={install.template}"),
            )
        except StoreError:
            self._clear_slot(slot, "not mapped")  # an unmapped slot must not stay behind
            raise
        if replaced is not None:
            self._clear_slot(replaced.slot, "replaced by a newer template")
            return (
                f"installed in slot {slot}, replacing template {replaced.template_id} "
                f"in slot {replaced.slot}"
            )
        return f"installed in slot {slot}"

    # -- delete, upload, received ------------------------------------------------------------

    def _delete(self, command: Command) -> str:
        template_id = template_of(command)
        held = self.store.templates.by_template(template_id)
        if held is None:
            # A report of ours may still name it: the central decided, it must not come back.
            self.store.templates.drop_report(template_id, ENROLLED)
            return "not held here"
        if held.slot in self.sensor.used_slots():
            self.sensor.delete(Slot(held.slot))
        self.store.templates.remove(
            held.slot, audit=AuditNote("delete", CENTRAL), drop_reports=True
        )
        return f"deleted from slot {held.slot}"

    def _upload(self, command: Command) -> str:
        template_id = template_of(command)
        if self.central_key is None:
            raise SyncDisabled("template sync is off ([sync].central_key is not set)")
        held = self.store.templates.by_template(template_id)
        if held is None:
            raise CommandFailed(f"template {template_id} is not held here")
        template = self.sensor.read_template(Slot(held.slot))
        enrolled = Enrolled(
            device=self.device,
            id=template_id,
            person=held.person_id,
            finger=held.finger,
            sealed=b64(seal(template, self.central_key, template_id)),
            by=held.enrolled_by or CENTRAL,
            at=held.mapped_at,
        )
        del template
        self.store.templates.queue(Report(template_id, ENROLLED, encode(enrolled)))
        self.output.reports_queued()
        return f"upload queued from slot {held.slot}"

    def _received(self, command: Command) -> str:
        template_id = template_of(command)
        # Forward-compatible: a central that names the kind confirms only that report, so a
        # deletion queued after the enrollment it confirms survives.
        kind = command.params.get("kind")
        if kind is not None and kind not in (ENROLLED, DELETED):
            raise CommandFailed(f"params.kind: must be {ENROLLED} or {DELETED}")
        dropped = self.store.templates.drop_report(
            template_id, kind if isinstance(kind, str) else None
        )
        return "report dropped" if dropped else "no report pending"

    # -- roster, resync ----------------------------------------------------------------------

    def _roster(self, command: Command) -> str:
        count = self.store.roster.replace(roster_rows(roster_of(command)))
        return f"roster replaced, {count} people"

    def _resync(self, command: Command) -> str:
        del command
        inventory = self.resync()
        return f"inventory sent, {len(inventory.have)} templates, {inventory.used} slots used"

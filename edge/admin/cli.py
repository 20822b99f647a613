"""The technician's side of the admin socket: ``hadir-edge enroll|verify|delete|list|info|sync``.

These commands talk to the running daemon over its Unix socket and never open the serial port
themselves: the daemon owns the module, and a second program on the same UART would corrupt
both programs' replies and race the punches. With the daemon stopped, ``hadir-sensor`` is the
bench tool for the bare module.

Exit codes: 0 done, 1 refused or failed (the daemon said why), 2 the daemon could not be
reached (not running, no permission on the socket, connection lost).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import textwrap
from collections.abc import Callable
from typing import Any, Final, TextIO

from edge.admin.protocol import (
    MAX_REPLY_BYTES,
    JSONValue,
    LineReader,
    Op,
    Progress,
    ProtocolError,
    Reply,
    Request,
    parse_server_line,
)
from edge.prompts import say
from wire.sync import FINGERS

PROG = "hadir-edge"
DEFAULT_SOCKET: Final = "/run/hadir/admin.sock"
EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_UNREACHABLE: Final = 2
IDLE_TIMEOUT_S: Final = 600.0
"""Silence from the daemon this long means it is stuck (an enrollment prompts every 30 s)."""

COMMANDS: Final = frozenset(op.value for op in Op)

_NO_SERIAL = (
    "Talks to the running daemon over --socket (group hadir-admin); it never opens the serial "
    "port itself, since that would race the daemon for the module. With the daemon stopped, "
    "use hadir-sensor on the bare module."
)
_EXIT_CODES = "Exit codes: 0 done, 1 refused or failed, 2 daemon not reachable."


class Unreachable(Exception):
    """The daemon could not be asked, or stopped answering; the message says how to fix it."""


def _epilog(example: str, extra: str = "") -> str:
    return f"Example: {example}\n\n{extra}{textwrap.fill(_NO_SERIAL, 78)}\n{_EXIT_CODES}"


def add_commands(sub: Any) -> None:
    """Add the six technician subcommands to ``hadir-edge``'s subparsers."""
    fingers = "\n".join(f"  {label:14} {name}" for label, name in FINGERS.items())

    def add(name: str, helptext: str, epilog: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name,
            help=helptext,
            description=helptext,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--socket",
            default=DEFAULT_SOCKET,
            metavar="PATH",
            help=f"the daemon's admin socket (default {DEFAULT_SOCKET})",
        )
        return p

    enroll = add(
        "enroll",
        "enroll a finger of a person in the roster (three presses at this terminal)",
        _epilog(
            "hadir-edge enroll 198501012010011001 right-index",
            f"FINGER is one of:\n{fingers}\n\n",
        ),
    )
    enroll.add_argument("number", metavar="NUMBER", help="NIP / NI PPPK (18 digits) or register")
    enroll.add_argument("finger", metavar="FINGER", help="finger label, e.g. right-index")
    add("verify", "press a finger: whose is it, and the match score", _epilog("hadir-edge verify"))
    delete = add(
        "delete",
        "delete one finger of a person, or all of them, here and (via the central) everywhere",
        _epilog("hadir-edge delete 198501012010011001 right-index"),
    )
    delete.add_argument("number", metavar="NUMBER")
    delete.add_argument(
        "finger", metavar="FINGER", nargs="?", help="only this finger (default: every finger)"
    )
    listing = add("list", "the enrolled fingers on this terminal", _epilog("hadir-edge list"))
    listing.add_argument("--json", action="store_true", help="print the listing as JSON")
    info = add(
        "info",
        "library use and capacity, roster size, sensor state",
        _epilog("hadir-edge info --socket /run/hadir/admin.sock"),
    )
    info.add_argument("--json", action="store_true", help="print the figures as JSON")
    add(
        "sync",
        "reconcile with the central now (back up and restore templates, refresh the roster)",
        _epilog("hadir-edge sync"),
    )


def ask(
    path: str,
    request: Request,
    on_progress: Callable[[Progress], None],
    *,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> Reply:
    """Send ``request`` to the daemon at ``path``; stream its progress; return its reply.

    Raises:
        Unreachable: the socket is missing, refuses, is not permitted, or the daemon went away.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5.0)
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise Unreachable(say("socket-missing", path=path)) from None
        except ConnectionRefusedError:
            raise Unreachable(say("daemon-down", path=path)) from None
        except PermissionError:
            raise Unreachable(say("permission-denied", path=path)) from None
        except OSError as exc:
            raise Unreachable(say("daemon-lost", detail=exc.strerror or exc)) from None
        try:
            sock.sendall(request.to_line())
            sock.settimeout(idle_timeout_s)
            reader = LineReader(sock, MAX_REPLY_BYTES)
            while True:
                line = reader.read_line()
                if line is None:
                    raise Unreachable(say("daemon-lost", detail="no reply"))
                message = parse_server_line(line)
                if isinstance(message, Reply):
                    return message
                on_progress(message)
        except TimeoutError:
            raise Unreachable(say("daemon-lost", detail="no answer")) from None
        except (OSError, ProtocolError) as exc:
            raise Unreachable(say("daemon-lost", detail=exc)) from None
    finally:
        sock.close()


def _request(args: argparse.Namespace) -> Request:
    op = Op(args.cmd)
    if op is Op.ENROLL:
        return Request(op, number=args.number, finger=args.finger)
    if op is Op.DELETE:
        return Request(op, number=args.number, finger=args.finger)
    return Request(op)


def _print_listing(data: dict[str, JSONValue], out: TextIO) -> None:
    entries = data.get("entries")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            name = entry.get("name") or "?"
            out.write(
                f"{entry.get('slot')!s:>5}  {entry.get('number')!s:<20} "
                f"{entry.get('finger')!s:<13} {entry.get('finger_id')!s:<18} {name}\n"
            )
    unmapped = data.get("unmapped_slots")
    if isinstance(unmapped, list) and unmapped:
        slots = " ".join(str(s) for s in unmapped)
        out.write(
            f"slot tanpa pemetaan (module slots not mapped): {slots}; jalankan 'hadir-edge sync' "
            "(run 'hadir-edge sync')\n"
        )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run one technician command against the daemon; returns the exit code."""

    def show(progress: Progress) -> None:
        out.write(progress.text + "\n")
        out.flush()

    try:
        reply = ask(args.socket, _request(args), show)
    except Unreachable as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        # The socket is closed on the way out: the daemon sees it and stores nothing.
        err.write(f"\n{PROG}: {say('interrupted')}\n")
        return EXIT_REFUSED
    if getattr(args, "json", False):
        out.write(json.dumps(reply.data, ensure_ascii=False, indent=2) + "\n")
    else:
        (out if reply.ok else err).write(reply.text + "\n")
        if args.cmd == Op.LIST.value and reply.ok:
            _print_listing(reply.data, out)
    return EXIT_OK if reply.ok else EXIT_REFUSED

"""The admin socket's wire format: one JSON object per line, both ways.

A connection carries one request. The client writes one :class:`Request` line; the daemon
answers with any number of :class:`Progress` lines (the enrollment's prompts, a capacity
warning) and ends with exactly one :class:`Reply` line, then closes. A client that goes away
cancels what it asked for.

Every line is validated on arrival, and limited in size before it is parsed, so a confused or
hostile local client cannot make the daemon buffer without bound. Nothing here ever carries
template bytes: a reply describes slots, people and scores, never the template itself.

Examples of lines::

    {"v": 1, "op": "enroll", "number": "198501012010011001", "finger": "right-index"}
    {"type": "progress", "step": "place", "text": "Letakkan jari ... (Place your finger ...)"}
    {"type": "reply", "ok": true, "code": "ok", "text": "...", "data": {"slot": 3}}
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

VERSION: Final = 1
"""The request format's version; the daemon refuses any other, so a mismatch is explicit."""
MAX_REQUEST_BYTES: Final = 4096
"""A request is a number and a finger label: a few hundred bytes at most."""
MAX_REPLY_BYTES: Final = 1 << 20
"""A reply may list every slot of the largest library (3,000 on some ZFM modules)."""
MAX_TEXT: Final = 2000
"""The longest human-readable text one message may carry."""

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


class ProtocolError(ValueError):
    """A line that is too long, not JSON, or not a valid message (the message says which)."""


class Op(StrEnum):
    """What a technician can ask the daemon."""

    ENROLL = "enroll"
    VERIFY = "verify"
    DELETE = "delete"
    LIST = "list"
    INFO = "info"
    SYNC = "sync"


class Code(StrEnum):
    """How an operation ended; the CLI's exit code follows ``ok`` only, scripts may use these."""

    OK = "ok"
    BAD_REQUEST = "bad-request"
    INVALID_NUMBER = "invalid-number"
    INVALID_FINGER = "invalid-finger"
    NO_ROSTER = "no-roster"
    NOT_IN_ROSTER = "not-in-roster"
    LIBRARY_FULL = "library-full"
    DUPLICATE = "duplicate"
    MISMATCH = "mismatch"
    POOR_IMAGE = "poor-image"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NOT_ENROLLED = "not-enrolled"
    UNKNOWN_FINGER = "unknown-finger"
    UNAVAILABLE = "unavailable"
    SENSOR = "sensor"
    BUSY = "busy"
    INTERNAL = "internal"


# Which fields each operation takes; the first set is required, the second optional.
_FIELDS: Final[dict[Op, tuple[frozenset[str], frozenset[str]]]] = {
    Op.ENROLL: (frozenset({"number", "finger"}), frozenset()),
    Op.VERIFY: (frozenset(), frozenset()),
    Op.DELETE: (frozenset({"number"}), frozenset({"finger"})),
    Op.LIST: (frozenset(), frozenset()),
    Op.INFO: (frozenset(), frozenset()),
    Op.SYNC: (frozenset(), frozenset()),
}
_MAX_FIELD = 64  # a number is at most 32 characters, a finger label 32


@dataclass(frozen=True, slots=True)
class Request:
    """One operation asked by the CLI.

    Attributes:
        op: The operation.
        number: The person's number as typed (enroll, delete).
        finger: A :data:`wire.sync.FINGERS` label (enroll; delete, optionally).
    """

    op: Op
    number: str | None = None
    finger: str | None = None

    def to_line(self) -> bytes:
        """The request as one line of JSON, newline included."""
        obj: dict[str, JSONValue] = {"v": VERSION, "op": self.op.value}
        if self.number is not None:
            obj["number"] = self.number
        if self.finger is not None:
            obj["finger"] = self.finger
        return _line(obj, MAX_REQUEST_BYTES)


@dataclass(frozen=True, slots=True)
class Progress:
    """Something to show while the operation runs.

    Attributes:
        step: What kind of progress: an enrollment step (``place``, ``lift``, ``place-again``,
            ``retry``, ``done``), ``warning`` or ``info``.
        text: The line to show, Bahasa Indonesia first, English in brackets.
    """

    step: str
    text: str

    def to_line(self) -> bytes:
        """The message as one line of JSON, newline included."""
        return _line({"type": "progress", "step": self.step, "text": self.text}, MAX_REPLY_BYTES)


@dataclass(frozen=True, slots=True)
class Reply:
    """The end of an operation.

    Attributes:
        ok: Whether it succeeded (CLI exit code 0; otherwise 1).
        code: How it ended, for scripts.
        text: What to tell the technician, Bahasa Indonesia first, English in brackets.
        data: Facts for display or scripts (template id, slot, score, listing...).
    """

    ok: bool
    code: Code
    text: str
    data: dict[str, JSONValue] = field(default_factory=dict)

    def to_line(self) -> bytes:
        """The message as one line of JSON, newline included."""
        obj: dict[str, JSONValue] = {
            "type": "reply",
            "ok": self.ok,
            "code": self.code.value,
            "text": self.text,
            "data": self.data,
        }
        return _line(obj, MAX_REPLY_BYTES)


def _line(obj: dict[str, JSONValue], limit: int) -> bytes:
    # ensure_ascii: names with accents travel as escapes, so the byte limit counts honestly.
    data = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
    if len(data) > limit:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the limit of {limit}")
    return data


def _object(line: bytes, limit: int) -> dict[str, object]:
    if len(line) > limit:
        raise ProtocolError(f"line of {len(line)} bytes exceeds the limit of {limit}")
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("line is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("line is not a JSON object")
    return obj


def _text(obj: dict[str, object], key: str, limit: int) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{key}: must be text of at most {limit} characters")
    if any(ord(c) < 0x20 for c in value):
        # No control characters: these strings end up on a terminal and in the audit.
        raise ProtocolError(f"{key}: must not contain control characters")
    return value


def parse_request(line: bytes) -> Request:
    """Validate one request line.

    Raises:
        ProtocolError: naming what is wrong (the value itself is not echoed).
    """
    obj = _object(line, MAX_REQUEST_BYTES)
    if obj.get("v") != VERSION:
        raise ProtocolError(f"v: this daemon speaks version {VERSION}")
    raw_op = obj.get("op")
    try:
        op = Op(raw_op) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        raise ProtocolError(f"op: must be one of {', '.join(o.value for o in Op)}")
    required, optional = _FIELDS[op]
    given = set(obj) - {"v", "op"}
    if missing := required - given:
        raise ProtocolError(f"{op.value}: missing {', '.join(sorted(missing))}")
    if extra := given - required - optional:
        raise ProtocolError(f"{op.value}: unexpected {', '.join(sorted(extra))}")
    number = _text(obj, "number", _MAX_FIELD) if "number" in given else None
    finger = _text(obj, "finger", _MAX_FIELD) if "finger" in given else None
    return Request(op, number, finger)


def parse_server_line(line: bytes) -> Progress | Reply:
    """Validate one line from the daemon (the CLI's side).

    Raises:
        ProtocolError: the daemon sent something this client does not understand.
    """
    obj = _object(line, MAX_REPLY_BYTES)
    kind = obj.get("type")
    if kind == "progress":
        return Progress(_text(obj, "step", 32), _text(obj, "text", MAX_TEXT))
    if kind == "reply":
        ok, raw_code, data = obj.get("ok"), obj.get("code"), obj.get("data")
        if not isinstance(ok, bool):
            raise ProtocolError("ok: must be true or false")
        try:
            code = Code(raw_code) if isinstance(raw_code, str) else None
        except ValueError:
            code = None
        if code is None:
            raise ProtocolError("code: unknown")
        if not isinstance(data, dict):
            raise ProtocolError("data: must be an object")
        # Multi-line texts are allowed in a reply (a listing), so only the length is checked.
        text = obj.get("text")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise ProtocolError(f"text: must be text of at most {MAX_TEXT} characters")
        return Reply(ok, code, text, data)
    raise ProtocolError("type: must be progress or reply")


class LineReader:
    """Reads newline-terminated lines from a stream socket, refusing any longer than a limit.

    Args:
        sock: A connected stream socket (its timeout applies to each read).
        limit: The longest line accepted, newline included.
    """

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self._sock = sock
        self._limit = limit
        self._buf = bytearray()

    def read_line(self) -> bytes | None:
        """The next line without its newline; None at a clean end of stream.

        Raises:
            ProtocolError: the line exceeds the limit, or the stream ends mid-line.
            OSError: the socket failed or timed out.
        """
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            if len(self._buf) >= self._limit:
                raise ProtocolError(f"line exceeds the limit of {self._limit} bytes")
            chunk = self._sock.recv(min(65536, self._limit - len(self._buf) + 1))
            if not chunk:
                if self._buf:
                    raise ProtocolError("the stream ended in the middle of a line")
                return None
            self._buf += chunk

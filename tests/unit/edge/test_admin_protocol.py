"""The admin socket's JSON lines: what is accepted, what is refused, and the size limits."""

from __future__ import annotations

import socket

import pytest

from edge.admin.protocol import (
    MAX_REQUEST_BYTES,
    Code,
    LineReader,
    Op,
    Progress,
    ProtocolError,
    Reply,
    Request,
    parse_request,
    parse_server_line,
)


@pytest.mark.parametrize(
    "request_",
    [
        Request(Op.ENROLL, "198501012010012001", "right-index"),
        Request(Op.DELETE, "PTT-2019-001"),
        Request(Op.DELETE, "PTT-2019-001", "left-thumb"),
        Request(Op.VERIFY),
        Request(Op.LIST),
        Request(Op.INFO),
        Request(Op.SYNC),
    ],
)
def test_admin_protocol_request_round_trips(request_: Request) -> None:
    line = request_.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_request(line.rstrip(b"\n")) == request_


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b"{not json", "not JSON"),
        (b'{"op": "list"}', "version"),
        (b'{"v": 2, "op": "list"}', "version"),
        (b'{"v": 1, "op": "format-disk"}', "op: must be one of"),
        (b'{"v": 1, "op": "enroll", "number": "1"}', "missing finger"),
        (b'{"v": 1, "op": "list", "number": "1"}', "unexpected number"),
        (b'{"v": 1, "op": "enroll", "number": 19850101, "finger": "x"}', "number: must be text"),
        (b'{"v": 1, "op": "delete", "number": "a\\u001bb"}', "control characters"),
        (b'{"v": 1, "op": "delete", "number": "' + b"9" * 100 + b'"}', "at most 64"),
        (b" " * (MAX_REQUEST_BYTES + 1), "exceeds the limit"),
    ],
)
def test_admin_protocol_refuses_bad_requests(line: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        parse_request(line)


def test_admin_protocol_server_lines_round_trip() -> None:
    progress = Progress("place", "Letakkan jari (Place finger)")
    reply = Reply(False, Code.DUPLICATE, "sudah (already)", {"slot": 3, "name": "Ñusa"})
    assert parse_server_line(progress.to_line().rstrip()) == progress
    assert parse_server_line(reply.to_line().rstrip()) == reply
    assert b"\\u00d1" in reply.to_line()  # ASCII on the wire: the byte limit counts honestly


@pytest.mark.parametrize(
    "line",
    [
        b'{"type": "shout"}',
        b'{"type": "reply", "ok": "yes", "code": "ok", "text": "", "data": {}}',
        b'{"type": "reply", "ok": true, "code": "great", "text": "", "data": {}}',
        b'{"type": "reply", "ok": true, "code": "ok", "text": "", "data": []}',
        b'{"type": "progress", "step": "place"}',
    ],
)
def test_admin_protocol_client_refuses_what_it_does_not_understand(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_server_line(line)


def test_admin_protocol_reply_over_the_limit_is_refused_when_built() -> None:
    huge = Reply(True, Code.OK, "", {"entries": ["x" * 1000] * 2000})
    with pytest.raises(ProtocolError, match="exceeds"):
        huge.to_line()


def test_admin_protocol_line_reader_splits_and_limits() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b'{"x": 1}\n{"y"')
        a.sendall(b": 2}\n")
        reader = LineReader(b, 64)
        assert reader.read_line() == b'{"x": 1}'
        assert reader.read_line() == b'{"y": 2}'
        a.sendall(b"z" * 100)
        with pytest.raises(ProtocolError, match="limit of 64"):
            reader.read_line()

    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"half a line")
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(ProtocolError, match="middle of a line"):
            LineReader(b, 64).read_line()

    a, b = socket.socketpair()
    with a, b:
        a.close()
        assert LineReader(b, 64).read_line() is None

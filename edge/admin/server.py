"""The daemon's admin socket: a Unix stream socket the technician's CLI talks to.

Access is the file's: mode 0660, group ``hadir-admin`` (the daemon's user must be a member to
chgrp it), so only root, the daemon's user and that group can connect. The caller's login for the
audit comes from the kernel (``SO_PEERCRED``), never from the request, so nobody can enroll in
someone else's name.

One thread per connection: a terminal has one or two technicians at a time, and each
connection mostly waits for a job on the sensor thread. A connection carries one request
(edge/admin/protocol.py). The connection's socket is also the cancellation signal: when the
client goes away (Ctrl-C, lost SSH session), the running operation stops waiting for presses
and stores nothing.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import socket
import stat
import struct
import threading
from pathlib import Path
from typing import Final, Self

from edge.admin.protocol import (
    MAX_REQUEST_BYTES,
    Code,
    LineReader,
    Progress,
    ProtocolError,
    Reply,
    parse_request,
)
from edge.admin.service import AdminService
from edge.prompts import say

log = logging.getLogger(__name__)

SOCKET_MODE: Final = 0o660
MAX_CLIENTS: Final = 8
"""More than a handful of simultaneous technicians is a stuck script, not a workload."""
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid (Linux)
_TIMEVAL = struct.Struct("@ll")  # struct timeval: seconds, microseconds
_SEND_TIMEOUT_S = 10
_MAX_UNIX_PATH = 107  # sun_path is 108 bytes, NUL included


class AdminServerError(OSError):
    """The socket cannot be set up (path in use, unknown group, no permission).

    An OSError, so a daemon that treats a failing socket as "punch on without it" (it catches
    OSError around :meth:`AdminServer.start`) also catches these.
    """


def login_of(uid: int) -> str:
    """The login name of ``uid``, or ``uid:N`` when the user database has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end, as the kernel recorded it."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


class _Client:
    """One connection, as the service sees it: a non-blocking progress sink and a gone-check.

    Both are called on the sensor thread, so neither may block: a technician whose terminal
    stopped reading must not stall punching. A progress line that does not fit at once in the
    socket's buffer (kilobytes of backlog: the client is not reading) counts as the client
    being gone.
    """

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._gone = False

    def progress(self, message: Progress) -> None:
        data = message.to_line()
        with self._lock:
            if self._gone:
                return
            try:
                sent = self._conn.send(data, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            except OSError:  # BlockingIOError (buffer full), BrokenPipeError, reset
                sent = -1
            if sent != len(data):
                self._gone = True
                log.info("admin client not reading; cancelling")

    def gone(self) -> bool:
        with self._lock:
            if self._gone:
                return True
            try:
                peek = self._conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                peek = b""
            # EOF means the client closed. Any byte after the request also cancels: a
            # connection carries one request, and the CLI sends nothing more.
            self._gone = True
            log.info("admin client gone eof=%s", peek == b"")
            return True

    def finish(self, reply: Reply) -> None:
        try:
            data = reply.to_line()
        except ProtocolError as exc:  # a listing too large for one line
            log.error("admin reply too large error=%r", str(exc))
            data = Reply(False, Code.INTERNAL, say("internal-error", detail="reply")).to_line()
        with self._lock:
            if self._gone:
                return
            with contextlib.suppress(OSError):
                self._conn.sendall(data)


class AdminServer:
    """Serves the admin socket at ``path`` for ``service``.

    Args:
        path: The socket file (``/run/hadir/admin.sock``); a stale one is replaced, a live one
            (another daemon) or a non-socket file is an error.
        group: The group allowed to connect (``hadir-admin``), or None to leave the file's
            group as created (the daemon's).
        service: The operations.
        request_timeout_s: How long a client may take to send its request line.
    """

    def __init__(
        self,
        path: Path,
        group: str | None,
        service: AdminService,
        *,
        request_timeout_s: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.group = group
        self._service = service
        self._request_timeout_s = request_timeout_s
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._acceptor: threading.Thread | None = None

    def start(self) -> Self:
        """Create the socket (mode 0660, chgrp ``group``) and start accepting.

        Raises:
            AdminServerError: naming the path and what to fix.
        """
        gid = self._gid()
        if len(os.fsencode(self.path)) > _MAX_UNIX_PATH:
            raise AdminServerError(f"{self.path}: longer than a Unix socket path may be")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self.path))
            # Mode and group are set before listen(): until then a connect is refused, so no
            # client ever reaches the socket while its permissions are still the umask's.
            os.chmod(self.path, SOCKET_MODE)
            if gid is not None:
                os.chown(self.path, -1, gid)
            sock.listen(MAX_CLIENTS)
            sock.settimeout(0.5)  # so the accept loop notices close()
            st = os.stat(self.path)
        except PermissionError as exc:
            sock.close()
            self._unlink_quietly()
            raise AdminServerError(
                f"{self.path}: {exc.strerror}; the daemon's user must be allowed to create it "
                f"and be a member of group {self.group!r}"
            ) from exc
        except OSError as exc:
            sock.close()
            self._unlink_quietly()
            raise AdminServerError(f"{self.path}: {exc.strerror or exc}") from exc
        self._sock = sock
        self._inode = (st.st_dev, st.st_ino)
        self._acceptor = threading.Thread(target=self._accept_loop, name="admin-accept")
        self._acceptor.daemon = True
        self._acceptor.start()
        log.info(
            "admin socket listening path=%s group=%s mode=%o", self.path, self.group, SOCKET_MODE
        )
        return self

    def close(self) -> None:
        """Stop accepting, cancel the connected clients' operations, remove the socket file."""
        self._closing.set()
        if self._sock is not None:
            self._sock.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        with self._lock:
            clients = list(self._clients.items())
        for conn, _ in clients:
            # The client sees EOF; the operation sees its client gone and stores nothing.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in clients:
            thread.join(timeout=5)
        self._unlink_quietly()
        log.info("admin socket closed path=%s", self.path)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- setup -------------------------------------------------------------------------------

    def _gid(self) -> int | None:
        if self.group is None:
            return None
        try:
            return grp.getgrnam(self.group).gr_gid
        except KeyError:
            raise AdminServerError(
                f"group {self.group!r} does not exist (create it: groupadd --system {self.group})"
            ) from None

    def _remove_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise AdminServerError(f"{self.path} exists and is not a socket; not replacing it")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(os.fspath(self.path))
            except (ConnectionRefusedError, FileNotFoundError):
                pass  # nobody listens: left behind by a daemon that died; replace it
            except OSError as exc:
                raise AdminServerError(f"{self.path}: cannot check it: {exc.strerror}") from exc
            else:
                raise AdminServerError(f"{self.path}: another daemon is listening on it")
        log.info("admin socket stale, replacing path=%s", self.path)
        self.path.unlink(missing_ok=True)

    def _unlink_quietly(self) -> None:
        # Remove the file only if it is still ours: a newer daemon may have replaced it.
        try:
            st = os.lstat(self.path)
            if self._inode is None or (st.st_dev, st.st_ino) == self._inode:
                self.path.unlink()
        except OSError:
            pass

    # -- serving -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._closing.is_set():
                    return
                log.warning("admin accept failed error=%r", str(exc))
                self._closing.wait(0.1)
                continue
            with self._lock:
                if len(self._clients) >= MAX_CLIENTS:
                    crowded = True
                else:
                    crowded = False
                    thread = threading.Thread(
                        target=self._serve, args=(conn,), name="admin-client", daemon=True
                    )
                    self._clients[conn] = thread
            if crowded:
                log.warning("admin client refused reason=too-many clients=%d", MAX_CLIENTS)
                with conn:
                    _Client(conn).finish(Reply(False, Code.BUSY, say("busy")))
                continue
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._handle(conn)
        except Exception:
            log.exception("admin connection failed")
        finally:
            with self._lock:
                self._clients.pop(conn, None)

    def _handle(self, conn: socket.socket) -> None:
        pid, uid, _ = peer_credentials(conn)
        by = login_of(uid)
        client = _Client(conn)
        conn.settimeout(self._request_timeout_s)
        try:
            line = LineReader(conn, MAX_REQUEST_BYTES).read_line()
            if line is None:
                return
            request = parse_request(line)
        except ProtocolError as exc:
            log.info("admin request refused by=%s pid=%d error=%r", by, pid, str(exc))
            client.finish(Reply(False, Code.BAD_REQUEST, say("bad-request", detail=exc)))
            return
        except OSError as exc:  # timed out or reset before a whole request arrived
            log.info("admin request not received by=%s pid=%d error=%r", by, pid, str(exc))
            return
        log.info("admin request op=%s by=%s uid=%d pid=%d", request.op.value, by, uid, pid)
        # Back to a plain blocking socket: with a Python timeout set, even a MSG_DONTWAIT call
        # first waits for readiness, and the gone-check and progress run on the sensor thread.
        # The kernel's send timeout still bounds the final reply to a client that stopped
        # reading.
        conn.settimeout(None)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL.pack(_SEND_TIMEOUT_S, 0))
        try:
            reply = self._service.handle(request, by, client.progress, client.gone)
        except Exception as exc:
            log.exception("admin operation failed op=%s by=%s", request.op.value, by)
            reply = Reply(False, Code.INTERNAL, say("internal-error", detail=type(exc).__name__))
        log.info(
            "admin reply op=%s by=%s ok=%s code=%s",
            request.op.value,
            by,
            reply.ok,
            reply.code.value,
        )
        client.finish(reply)

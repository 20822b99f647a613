"""PtyLink: the simulated module's serial cable, a pseudo-terminal with a stable device path.

pty mechanics follow r307-protocol.md §10: the slave is put in raw mode before anyone opens it
(otherwise the line discipline rewrites 0x0A as CR LF), and the simulator keeps its own slave fd
open for its whole life (otherwise the master reads EIO while the client reopens the port).

The device path is a symlink, like the udev rule's ``/dev/r307`` on a Pi: unplugging removes it
and closes the pty, so a client holding the old port sees the hang-up a USB adapter gives, and
replugging makes a new pty behind the same path.
"""

from __future__ import annotations

import contextlib
import os
import termios
import time
import tty

_SPEEDS = {
    getattr(termios, f"B{b}"): b
    for b in (9600, 19200, 38400, 57600, 115200, 230400)
    if hasattr(termios, f"B{b}")
}


class PtyLink:
    """One end of a serial cable that a host opens by path."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        """Whether the cable is connected (the device path exists)."""
        return self._master is not None

    def fileno(self) -> int:
        """The master fd, for select()."""
        if self._master is None:
            raise OSError("the simulated module is unplugged")
        return self._master

    def plug(self) -> None:
        """Create the pty and publish its path."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = f"{self.path}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        """Remove the path and hang up the pty."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def read(self) -> bytes:
        """Whatever the host has written; empty when nothing is there (or no host is open)."""
        if self._master is None:
            return b""
        try:
            return os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            # EIO: no process has the slave open right now (§10); nothing to read.
            return b""

    def write(self, data: bytes, baud: int | None = None) -> None:
        """Send ``data``; with ``baud`` set, take as long as the UART would (10 bits a byte)."""
        if self._master is None or not data:
            return
        if baud:
            time.sleep(10.0 * len(data) / baud)
        view = memoryview(data)
        deadline = time.monotonic() + 5.0
        while view and self._master is not None:
            try:
                n = os.write(self._master, view)
                view = view[n:]
            except BlockingIOError:
                # The host is not reading; a real UART would overrun, we wait a little.
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)
            except OSError:
                return

    def host_baud(self) -> int | None:
        """The baud rate the host configured on its end, if it set a standard one."""
        if self._slave is None:
            return None
        try:
            speed = termios.tcgetattr(self._slave)[5]
        except termios.error:
            return None
        return _SPEEDS.get(speed)

    def flush_input(self) -> None:
        """Drop bytes the host sent that the module has not read (power loss)."""
        if self._master is not None:
            while self.read():
                pass

"""sd_notify(3) without libsystemd: READY, WATCHDOG and STATUS over $NOTIFY_SOCKET.

The unit is ``Type=notify`` with ``WatchdogSec``: systemd restarts the daemon when the punch loop
stops pinging, so a stuck loop (a hung driver call, a deadlock) heals itself.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Notifier:
    """Sends state lines to systemd; a no-op outside systemd (no $NOTIFY_SOCKET)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading "@" (sd_notify(3)).
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        # Ping at half the watchdog period, as sd_watchdog_enabled(3) advises.
        self._watchdog_every_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._last_ping = 0.0

    def send(self, message: str) -> None:
        """Send one datagram; failures are logged, never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            log.warning("sd_notify failed message=%r error=%r", message, str(exc))

    def ready(self, status: str = "") -> None:
        """The daemon is up: the sensor was tried and the publisher started."""
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        """Called on every pass of the punch loop; pings at half the watchdog period."""
        if self._watchdog_every_s is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self._watchdog_every_s:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        """The daemon is shutting down on purpose."""
        self.send("STOPPING=1")

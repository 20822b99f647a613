"""The sensor layer's exception tree: one root, each leaf also the builtin it resembles.

Every failure of the module is classified into one of four kinds, so callers can act without
reading messages (r307-protocol.md §9):

* the person's: :class:`PoorImage` (no finger is not an error, it is ``False``/``None``);
* a transient link fault: :class:`FrameError`, :class:`SensorTimeout` (retried by the driver
  before they ever reach a caller, and raised only when the retries are used up);
* the module offline: :class:`SensorUnavailable` (the driver backs off and re-opens the port);
* the module misconfigured: :class:`SensorMisconfigured` (wrong password, address or baud:
  retrying cannot help, so the driver does not).
"""

from __future__ import annotations


class SensorError(Exception):
    """Root of every error the sensor layer raises."""


class PoorImage(SensorError):
    """The finger was read but the image is unusable (dry, wet, misplaced): ask again."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(f"poor fingerprint image: {reason} (code 0x{code:02X})")
        self.reason = reason
        self.code = code


class FrameError(SensorError, ValueError):
    """A reply had a bad header, length or checksum, or arrived out of step."""


class SensorTimeout(SensorError, TimeoutError):
    """The module did not answer before the transaction's deadline."""


class SensorUnavailable(SensorError, ConnectionError):
    """The module is offline: the port is gone, or it stopped answering."""


class SensorMisconfigured(SensorError):
    """The module answers but refuses us (wrong password), or cannot be understood (wrong baud)."""


class ModuleRefused(SensorError):
    """The module answered a command with a confirmation code other than OK."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(f"{message} (code 0x{code:02X})")
        self.code = code


class EnrollMismatch(SensorError):
    """The two captures of an enrollment do not come from the same finger."""


class DuplicateFinger(SensorError):
    """The finger being enrolled is already stored in the module."""

    def __init__(self, slot: int, score: int) -> None:
        super().__init__(f"finger already enrolled in slot {slot} (score {score})")
        self.slot = slot
        self.score = score


class LibraryFull(SensorError):
    """Every slot of the module's template library is used."""

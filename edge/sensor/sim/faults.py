"""The faults a tester can inject, each one a field failure from r307-protocol.md §9."""

from __future__ import annotations

import enum


class Fault(enum.Enum):
    """One-shot faults spoil the next reply(ies); the rest change the module until cleared."""

    # One-shot: applied to the next ``count`` replies.
    BAD_CHECKSUM = "bad-checksum"  # electrical noise on one reply (§9 #4)
    STRAY_BYTE = "stray-byte"  # a 0x00 before the reply: permanent desync for pyfingerprint
    TRUNCATED = "truncated"  # the reply stops half way
    SHORT_ACK = "short-ack"  # a bare 12-byte ack with code 0x01 instead of the full reply
    SILENCE = "silence"  # no reply at all
    LATE = "late"  # the reply comes after the client's timeout
    GARBAGE = "garbage"  # random bytes instead of the reply
    BROWNOUT = "brownout"  # the module resets mid-reply and announces itself with 0x55
    # Lasting, until cleared (or a power cycle, for HANG).
    NOISE = "noise"  # random byte corruption on a share of the replies
    WRONG_BAUD = "wrong-baud"  # the module runs at another baud rate: only garbage comes back
    SLOW = "slow"  # every operation takes several times longer
    HANG = "hang"  # firmware hang: silent until the power is cycled (§9 #8)


ONE_SHOT = frozenset(
    {
        Fault.BAD_CHECKSUM,
        Fault.STRAY_BYTE,
        Fault.TRUNCATED,
        Fault.SHORT_ACK,
        Fault.SILENCE,
        Fault.LATE,
        Fault.GARBAGE,
        Fault.BROWNOUT,
    }
)


def parse(name: str) -> Fault:
    """A fault by its command-line name, with a message listing the known ones."""
    try:
        return Fault(name)
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {name!r}; known: {known}") from None

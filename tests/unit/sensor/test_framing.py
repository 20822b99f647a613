"""Framing of the simulated R307 against golden frames typed from r307-protocol.md §1.

Nothing here derives an expected byte from ``edge.sensor.sim.framing``: the expectations come
from tests/golden/r307_frames.py or from the small independent checksum below.
"""

from __future__ import annotations

import itertools

import pytest

from edge.sensor.sim.framing import ChecksumMismatch, Packet, Reassembler, checksum, encode
from tests.golden import r307_frames as golden

ALL = list(golden.ALL_FRAMES.items())
COMMANDS = list(golden.COMMANDS.items())


def _fields(frame: bytes) -> tuple[int, int, bytes]:
    """Address, PID and content sliced out of a frame (§1.2 offsets), without computing anything."""
    return int.from_bytes(frame[2:6], "big"), frame[6], frame[9:-2]


def _independent_frame(address: int, pid: int, content: bytes) -> bytes:
    """A frame built straight from §1.2, for lengths the doc has no example of."""
    length = len(content) + 2
    total = pid + (length >> 8) + (length & 0xFF) + sum(content)
    return (
        b"\xef\x01"
        + address.to_bytes(4, "big")
        + bytes((pid, length >> 8, length & 0xFF))
        + content
        + (total & 0xFFFF).to_bytes(2, "big")
    )


def _feed_bytewise(reasm: Reassembler, data: bytes) -> list[Packet | ChecksumMismatch]:
    out: list[Packet | ChecksumMismatch] = []
    for i in range(len(data)):
        out += reasm.feed(data[i : i + 1])
    return out


# -- encode / checksum ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "frame"), ALL, ids=[n for n, _ in ALL])
def test_encode_reproduces_golden_frame(name: str, frame: bytes) -> None:
    address, pid, content = _fields(frame)
    assert encode(address, pid, content) == frame, name


@pytest.mark.parametrize(("name", "frame"), ALL, ids=[n for n, _ in ALL])
def test_checksum_matches_golden_trailer(name: str, frame: bytes) -> None:
    _, pid, content = _fields(frame)
    assert checksum(pid, content) == int.from_bytes(frame[-2:], "big"), name


def test_encode_length_field_counts_content_and_checksum_only() -> None:
    # §1.2: LENGTH = len(content) + 2; the VfyPwd example has 5 content bytes and LENGTH 7.
    frame = encode(0xFFFFFFFF, 0x01, bytes.fromhex("13 00 00 00 00"))
    assert frame[7:9] == b"\x00\x07"
    assert len(frame) == 16


def test_encode_full_256_byte_data_packet_has_length_258() -> None:
    content = bytes(range(256))
    frame = encode(0xFFFFFFFF, 0x02, content)
    assert frame == _independent_frame(0xFFFFFFFF, 0x02, content)
    assert frame[7:9] == b"\x01\x02"
    assert len(frame) == 256 + 11


def test_encode_uses_given_address_which_checksum_ignores() -> None:
    frame = encode(0x12345678, 0x07, b"\x00")
    assert frame == bytes.fromhex("EF 01 12 34 56 78 07 00 03 00 00 0A")


# -- Reassembler ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "frame"), ALL, ids=[n for n, _ in ALL])
def test_reassembler_decodes_golden_frame_fed_one_byte_at_a_time(name: str, frame: bytes) -> None:
    reasm = Reassembler()
    for i in range(len(frame) - 1):
        assert reasm.feed(frame[i : i + 1]) == [], f"{name}: packet before byte {i + 1}"
    out = reasm.feed(frame[-1:])
    address, pid, content = _fields(frame)
    assert out == [Packet(address, pid, content)]
    assert reasm.skipped == 0


def test_reassembler_decodes_real_device_readsyspara_ack() -> None:
    out = _feed_bytewise(Reassembler(), golden.ACK_READSYSPARA_PID4750)
    assert len(out) == 1
    pkt = out[0]
    assert isinstance(pkt, Packet)
    assert pkt.pid == 0x07
    assert pkt.address == 0xFFFFFFFF
    block = pkt.content[1:]
    assert pkt.content[0] == 0x00
    assert len(block) == 16
    assert int.from_bytes(block[4:6], "big") == 80  # capacity
    assert int.from_bytes(block[6:8], "big") == 3  # security level
    assert int.from_bytes(block[12:14], "big") == 2  # packet size code
    assert int.from_bytes(block[14:16], "big") == 12  # baud N


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x55",
        b"\x00",
        b"\x00\x55\x12\x34",
        b"\xef",
        b"\xef\xef",
        b"\x01\xef\x00\x01",
        b"\xff" * 40,
    ],
    ids=["0x55", "0x00", "mixed", "lone-EF", "EF-EF", "EF-not-01", "long"],
)
def test_reassembler_resyncs_after_leading_garbage(garbage: bytes) -> None:
    reasm = Reassembler()
    out = _feed_bytewise(reasm, garbage + golden.GENIMG)
    assert out == [Packet(0xFFFFFFFF, 0x01, b"\x01")]
    assert reasm.skipped == len(garbage)


def test_reassembler_resyncs_after_garbage_in_one_chunk() -> None:
    reasm = Reassembler()
    out = reasm.feed(b"\x00\x55\xaa" + golden.VFYPWD_DEFAULT)
    assert out == [Packet(0xFFFFFFFF, 0x01, bytes.fromhex("13 00 00 00 00"))]
    assert reasm.skipped == 3


def test_reassembler_keeps_a_trailing_ef_that_starts_the_next_header() -> None:
    reasm = Reassembler()
    assert reasm.feed(b"\x12\x34" + golden.TEMPLETENUM[:1]) == []
    out = reasm.feed(golden.TEMPLETENUM[1:])
    assert out == [Packet(0xFFFFFFFF, 0x01, b"\x1d")]
    assert reasm.skipped == 2


def test_reassembler_resyncs_after_stray_byte_between_frames() -> None:
    reasm = Reassembler()
    stream = golden.GENIMG + b"\x55" + golden.TEMPLETENUM + b"\x00" + golden.EMPTY
    out = _feed_bytewise(reasm, stream)
    assert out == [
        Packet(0xFFFFFFFF, 0x01, b"\x01"),
        Packet(0xFFFFFFFF, 0x01, b"\x1d"),
        Packet(0xFFFFFFFF, 0x01, b"\x0d"),
    ]
    assert reasm.skipped == 2


def test_reassembler_skips_a_false_header_before_a_real_frame() -> None:
    # A stray "EF 01" makes the real header look like an address and FF like a PID.
    reasm = Reassembler()
    out = _feed_bytewise(reasm, b"\xef\x01" + golden.READSYSPARA)
    assert out == [Packet(0xFFFFFFFF, 0x01, b"\x0f")]


@pytest.mark.parametrize("where", [9, -1, -2], ids=["content", "checksum-lo", "checksum-hi"])
def test_reassembler_reports_checksum_mismatch_for_corrupted_frame(where: int) -> None:
    bad = bytearray(golden.IMG2TZ_BUF1)
    bad[where] ^= 0x40
    reasm = Reassembler()
    out = _feed_bytewise(reasm, bytes(bad) + golden.GENIMG)
    assert out == [ChecksumMismatch(0xFFFFFFFF, 0x01), Packet(0xFFFFFFFF, 0x01, b"\x01")]


def test_reassembler_checksum_mismatch_carries_the_frames_address() -> None:
    bad = bytearray(_independent_frame(0x0A0B0C0D, 0x07, b"\x00"))
    bad[-1] ^= 0x01
    assert Reassembler().feed(bytes(bad)) == [ChecksumMismatch(0x0A0B0C0D, 0x07)]


@pytest.mark.parametrize(
    "length", [0x0000, 0x0001, 0x0002, 0x0103, 0x0200, 0xFFFF], ids=lambda n: f"LEN={n:#06x}"
)
def test_reassembler_drops_impossible_length_and_resyncs(length: int) -> None:
    bogus = b"\xef\x01\xff\xff\xff\xff\x01" + length.to_bytes(2, "big") + b"\x01\x00\x05"
    reasm = Reassembler()
    out = _feed_bytewise(reasm, bogus + golden.GENIMG)
    assert out == [Packet(0xFFFFFFFF, 0x01, b"\x01")]
    assert reasm.skipped == len(bogus)


def test_reassembler_drops_unknown_pid_and_resyncs() -> None:
    bogus = bytes.fromhex("EF 01 FF FF FF FF 05 00 03 01 00 09")
    reasm = Reassembler()
    out = reasm.feed(bogus + golden.GENIMG)
    assert out == [Packet(0xFFFFFFFF, 0x01, b"\x01")]
    assert reasm.skipped == len(bogus)


def test_reassembler_accepts_the_largest_legal_length() -> None:
    frame = _independent_frame(0xFFFFFFFF, 0x08, bytes(range(256)))
    assert _feed_bytewise(Reassembler(), frame) == [Packet(0xFFFFFFFF, 0x08, bytes(range(256)))]


def test_reassembler_decodes_two_frames_in_one_chunk() -> None:
    out = Reassembler().feed(golden.VFYPWD_DEFAULT + golden.ACK_WRONG_PASSWORD)
    assert out == [
        Packet(0xFFFFFFFF, 0x01, bytes.fromhex("13 00 00 00 00")),
        Packet(0xFFFFFFFF, 0x07, b"\x13"),
    ]


def test_reassembler_decodes_frames_split_across_arbitrary_chunks() -> None:
    stream = golden.SEARCH_BUF1_START0_COUNT1000 + golden.ACK_READSYSPARA_R307 + golden.MATCH
    reasm = Reassembler()
    out: list[Packet | ChecksumMismatch] = []
    cuts = [0, 5, 6, 17, 20, 44, len(stream)]
    for a, b in itertools.pairwise(cuts):
        out += reasm.feed(stream[a:b])
    assert out == [
        Packet(0xFFFFFFFF, 0x01, bytes.fromhex("04 01 00 00 03 E8")),
        Packet(0xFFFFFFFF, 0x07, golden.ACK_READSYSPARA_R307[9:-2]),
        Packet(0xFFFFFFFF, 0x01, b"\x03"),
    ]


def test_reassembler_clear_forgets_a_partial_packet() -> None:
    reasm = Reassembler()
    assert reasm.feed(golden.GENIMG[:7]) == []
    reasm.clear()
    assert reasm.feed(golden.TEMPLETENUM) == [Packet(0xFFFFFFFF, 0x01, b"\x1d")]

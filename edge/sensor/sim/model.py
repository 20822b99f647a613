"""R307Model: the module's behaviour as a pure packet-in, packets-out state machine.

No I/O and no sleeping happen here: :meth:`R307Model.handle` returns the reply frames and how
long the module would be busy before the first byte leaves, and :mod:`edge.sensor.sim.link` does
the waiting and the writing. Instruction semantics follow r307-protocol.md §2-§4 and the
per-method table of §6.6.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.sensor.sim import fingers
from edge.sensor.sim.fingers import Capture, Quality
from edge.sensor.sim.flash import NOTEPAD_PAGE_SIZE, NOTEPAD_PAGES, Flash, Settings
from edge.sensor.sim.framing import (
    PID_ACK,
    PID_COMMAND,
    PID_DATA,
    PID_END,
    ChecksumMismatch,
    Packet,
    encode,
)
from edge.sensor.sim.profiles import ModelProfile, Timing

OK = 0x00
ERR_RECEIVE = 0x01
NO_FINGER = 0x02
CAPTURE_FAILED = 0x03
TOO_MESSY = 0x06
TOO_FEW_FEATURES = 0x07
NO_MATCH = 0x08
NOT_FOUND = 0x09
MERGE_FAILED = 0x0A
BAD_PAGE = 0x0B
EMPTY_TEMPLATE = 0x0C
UPLOAD_FAILED = 0x0D
NO_IMAGE_TO_SEND = 0x0F
DELETE_FAILED = 0x10
WRONG_PASSWORD = 0x13
NO_VALID_IMAGE = 0x15
BAD_REGISTER = 0x1A
BAD_REGISTER_VALUE = 0x1B
BAD_NOTEPAD_PAGE = 0x1C
VERIFY_PASSWORD_FIRST = 0x21
SENSOR_ABNORMAL = 0x29
ECHO_OK = 0x55
PACKET_SIZES = (32, 64, 128, 256)


@dataclass(slots=True)
class Response:
    """What the module sends for one command: frames, busy time, and a trailing raw byte."""

    frames: list[bytes]
    busy_s: float = 0.0
    raw_after: bytes = b""
    reset_after: bool = False  # SoftRst: the module reboots once the ack is out


@dataclass(slots=True)
class LedState:
    """The module's own LED (Aura ring on the R503, backlight on AS608 boards)."""

    mode: int = 0
    colour: int = 0
    speed: int = 0
    cycles: int = 0


@dataclass(slots=True)
class _Download:
    target: int  # 0 = image buffer, 1/2 = char buffers
    data: bytearray = field(default_factory=bytearray)


class R307Model:
    """One module: flash-backed library and settings, volatile buffers, a finger on the glass."""

    def __init__(
        self,
        profile: ModelProfile,
        timing: Timing,
        flash_path: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.profile = profile
        self.timing = timing
        defaults = Settings(
            password=0,
            address=0xFFFFFFFF,
            security_level=profile.security_level,
            packet_code=profile.packet_code,
            baud_n=profile.baud_n,
        )
        self.flash = Flash(profile.capacity, profile.template_size, defaults, flash_path)
        self._library: dict[int, bytes] = {}
        for slot in self.flash.used():
            template = self.flash.read(slot)
            if template is not None:
                self._library[slot] = template
        self.rng = random.Random(seed)
        self.finger: str | None = None
        self.seen: set[str] = set()
        self.quality: Quality = Quality.GOOD
        # Share of presses that come out poor (dry, wet, misplaced) at random.
        self.poor_rate = 0.0
        self.sensor_fault = False
        self.led = LedState()
        self.powered = True
        self.hung = False
        self._reset_volatile()

    # -- power -------------------------------------------------------------------------------

    def _reset_volatile(self) -> None:
        self.image: Capture | None = None
        self.buffers: dict[int, bytes] = {
            1: bytes(fingers.TEMPLATE_SIZE),
            2: bytes(fingers.TEMPLATE_SIZE),
        }
        self.verified = self.flash.settings.password == 0
        self.password_checked = False  # status bit 2: set by a VfyPwd, not by the default
        self.last_pass = False
        self._download: _Download | None = None
        # Baud and address changes stored in flash take effect at the next power-up (§4.3).
        self.baud_n = self.flash.settings.baud_n
        self.address = self.flash.settings.address

    def power_off(self) -> None:
        """Supply cut: the buffers are lost, the flash is kept."""
        self.powered = False
        self.hung = False

    def power_on(self) -> None:
        """Supply restored: the module boots with its flash settings."""
        self.powered = True
        self.hung = False
        self._reset_volatile()

    # -- the world ---------------------------------------------------------------------------

    def place(self, finger: str, quality: Quality = Quality.GOOD) -> None:
        """A finger touches the glass and stays there until :meth:`lift`."""
        self.finger = finger
        self.quality = quality
        self.seen.add(finger)

    def lift(self) -> None:
        """The finger leaves the glass."""
        self.finger = None

    def library(self) -> dict[int, bytes]:
        """A copy of the stored templates by slot."""
        return dict(self._library)

    def who_is(self, slot: int) -> tuple[str, int] | None:
        """The finger seen so far that the template in ``slot`` resembles most, and the score.

        The module stores features, not names; this is the tester's view, by comparing the
        template with every finger placed on this simulator since it started.
        """
        template = self._library.get(slot)
        if template is None or not self.seen:
            return None
        scored = [
            (fingers.score(fingers.char_buffer(fingers.base_features(f)), template), f)
            for f in self.seen
        ]
        best, finger = max(scored)
        return (finger, best) if best >= self._threshold() else None

    # -- packets -----------------------------------------------------------------------------

    def handle(self, item: Packet | ChecksumMismatch) -> Response | None:
        """Answer one packet from the host; None means the module stays silent."""
        if not self.powered or self.hung:
            return None
        if item.address != self.address:
            return None  # §1.3: packets for another address are ignored entirely
        if isinstance(item, ChecksumMismatch):
            self._download = None
            return self._ack(ERR_RECEIVE)
        if item.pid in (PID_DATA, PID_END):
            return self._receive_data(item)
        if item.pid != PID_COMMAND:
            return None
        self._download = None
        code, params = item.content[0], item.content[1:]
        if not self.verified and code != 0x13:
            return self._ack(VERIFY_PASSWORD_FIRST)
        if code not in self.profile.instructions:
            if self.profile.unknown_reply is None:
                return None
            return self._ack(self.profile.unknown_reply)
        handler = _HANDLERS.get(code)
        if handler is None:  # listed in the profile but not modelled: answer as unsupported
            return self._ack(self.profile.unknown_reply or ERR_RECEIVE)
        try:
            return handler(self, params)
        except (IndexError, struct.error):
            # Parameters shorter than the instruction needs: the module reports a bad packet.
            return self._ack(ERR_RECEIVE)

    def _receive_data(self, packet: Packet) -> Response | None:
        dl = self._download
        if dl is None:
            return None  # a data packet on its own is rejected silently (§1.3)
        dl.data += packet.content
        if packet.pid == PID_END:
            self._download = None
            if dl.target == 0:
                self.image = Capture("<uploaded>", Quality.GOOD, bytes(dl.data[: fingers.FEATURES]))
            else:
                data = bytes(dl.data[: fingers.TEMPLATE_SIZE])
                self.buffers[dl.target] = data.ljust(fingers.TEMPLATE_SIZE, b"\x00")
        return None  # data packets are never acknowledged (§2.5)

    # -- helpers -----------------------------------------------------------------------------

    def _ack(self, code: int, extra: bytes = b"", busy_s: float | None = None) -> Response:
        frame = encode(self.address, PID_ACK, bytes((code,)) + extra)
        return Response([frame], self.timing.command_s if busy_s is None else busy_s)

    def _data_frames(self, payload: bytes) -> list[bytes]:
        size = PACKET_SIZES[self.flash.settings.packet_code]
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        last = len(chunks) - 1
        return [
            encode(self.address, PID_END if i == last else PID_DATA, chunk)
            for i, chunk in enumerate(chunks)
        ]

    def _threshold(self) -> int:
        return fingers.THRESHOLDS[self.flash.settings.security_level]

    def _buffer_id(self, raw: int) -> int:
        return 1 if raw == 1 else 2  # §2.1: any value other than 1 means buffer 2

    def status_register(self) -> int:
        """The status register of §4.2."""
        return (
            (self.last_pass << 1) | (self.password_checked << 2) | ((self.image is not None) << 3)
        )

    # -- instructions ------------------------------------------------------------------------

    def _gen_img(self, _: bytes, *, ex: bool = False) -> Response:
        t = self.timing
        if self.sensor_fault:
            return self._ack(CAPTURE_FAILED, busy_s=t.capture_s)
        if self.finger is None:
            return self._ack(NO_FINGER, busy_s=t.no_finger_s)
        quality = self.quality
        if quality is Quality.GOOD and self.rng.random() < self.poor_rate:
            quality = self.rng.choice([Quality.WET, Quality.DRY, Quality.PARTIAL])
        if quality is Quality.SMUDGE:
            return self._ack(CAPTURE_FAILED, busy_s=t.capture_s)
        self.image = fingers.capture(self.finger, quality, self.rng)
        if ex and quality is not Quality.GOOD:
            return self._ack(TOO_FEW_FEATURES, busy_s=t.capture_s)
        return self._ack(OK, busy_s=t.capture_s)

    def _gen_img_ex(self, params: bytes) -> Response:
        return self._gen_img(params, ex=True)

    def _img2tz(self, params: bytes) -> Response:
        busy = self.timing.extract_s
        buf = self._buffer_id(params[0])
        if self.image is None:
            return self._ack(NO_VALID_IMAGE, busy_s=busy)
        if self.image.quality is Quality.WET:
            return self._ack(TOO_MESSY, busy_s=busy)
        if self.image.quality in (Quality.DRY, Quality.PARTIAL):
            return self._ack(TOO_FEW_FEATURES, busy_s=busy)
        self.buffers[buf] = fingers.char_buffer(self.image.features)
        return self._ack(OK, busy_s=busy)

    def _match(self, _: bytes) -> Response:
        s = fingers.score(self.buffers[1], self.buffers[2])
        self.last_pass = s >= self._threshold()
        if self.last_pass:
            return self._ack(OK, s.to_bytes(2, "big"))
        return self._ack(NO_MATCH, b"\x00\x00")

    def _search(self, params: bytes) -> Response:
        buf = self._buffer_id(params[0])
        start, count = struct.unpack(">HH", params[1:5])
        end = min(start + count, self.profile.capacity)
        probe = self.buffers[buf]
        best_slot, best = -1, -1
        searched = 0
        for slot, template in self._library.items():
            if start <= slot < end:
                searched += 1
                s = fingers.score(probe, template)
                if s > best:
                    best_slot, best = slot, s
        t = self.timing
        busy = t.search_base_s + t.search_per_template_s * searched
        self.last_pass = best >= self._threshold()
        if self.last_pass:
            return self._ack(OK, struct.pack(">HH", best_slot, best), busy_s=busy)
        return self._ack(NOT_FOUND, b"\x00\x00\x00\x00", busy_s=busy)

    def _reg_model(self, _: bytes) -> Response:
        busy = self.timing.merge_s
        if fingers.score(self.buffers[1], self.buffers[2]) < self._threshold():
            return self._ack(MERGE_FAILED, busy_s=busy)
        template = fingers.merge(self.buffers[1], self.buffers[2])
        self.buffers[1] = self.buffers[2] = template
        return self._ack(OK, busy_s=busy)

    def _store(self, params: bytes) -> Response:
        buf = self._buffer_id(params[0])
        (page,) = struct.unpack(">H", params[1:3])
        if page >= self.profile.capacity:
            return self._ack(BAD_PAGE)
        self.flash.write(page, self.buffers[buf])
        self._library[page] = self.flash.read(page) or b""
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _load_char(self, params: bytes) -> Response:
        buf = self._buffer_id(params[0])
        (page,) = struct.unpack(">H", params[1:3])
        if page >= self.profile.capacity:
            return self._ack(BAD_PAGE)
        template = self._library.get(page)
        if template is None:
            return self._ack(EMPTY_TEMPLATE)
        self.buffers[buf] = template
        return self._ack(OK)

    def _up_char(self, params: bytes) -> Response:
        buf = self._buffer_id(params[0])
        ack = self._ack(OK)
        ack.frames += self._data_frames(self.buffers[buf])
        return ack

    def _down_char(self, params: bytes) -> Response:
        self._download = _Download(self._buffer_id(params[0]))
        return self._ack(OK)

    def _up_image(self, _: bytes) -> Response:
        if self.image is None:
            return self._ack(NO_IMAGE_TO_SEND)
        ack = self._ack(OK)
        p = self.profile
        ack.frames += self._data_frames(
            fingers.image_bytes(self.image, p.image_width, p.image_height)
        )
        return ack

    def _down_image(self, _: bytes) -> Response:
        self._download = _Download(0)
        return self._ack(OK)

    def _delete(self, params: bytes) -> Response:
        page, count = struct.unpack(">HH", params[:4])
        if page >= self.profile.capacity:
            return self._ack(BAD_PAGE)
        if count == 0:
            return self._ack(DELETE_FAILED)
        for slot in range(page, min(page + count, self.profile.capacity)):
            if slot in self._library:
                self.flash.erase(slot)
                del self._library[slot]
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _empty(self, _: bytes) -> Response:
        for slot in list(self._library):
            self.flash.erase(slot)
        self._library.clear()
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _set_sys_para(self, params: bytes) -> Response:
        number, value = params[0], params[1]
        s = self.flash.settings
        legal_baud = (1, 2, 4, 6, 12) if self.profile.name == "r503" else range(1, 13)
        if number == 4:
            if value not in legal_baud:
                return self._ack(BAD_REGISTER_VALUE)
            s.baud_n = value  # effective after the next power-up
        elif number == 5:
            if not 1 <= value <= 5:
                return self._ack(BAD_REGISTER_VALUE)
            s.security_level = value
        elif number == 6:
            if not 0 <= value <= 3:
                return self._ack(BAD_REGISTER_VALUE)
            s.packet_code = value
        else:
            return self._ack(BAD_REGISTER)
        # §4.3: the ack goes out with the old configuration; the flash write keeps it busy.
        self.flash.save_settings()
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _read_sys_para(self, _: bytes) -> Response:
        s = self.flash.settings
        block = struct.pack(
            ">HHHHIHH",
            self.status_register(),
            self.profile.system_id,
            self.profile.capacity,
            s.security_level,
            self.address,
            s.packet_code,
            self.baud_n,
        )
        return self._ack(OK, block)

    def _set_pwd(self, params: bytes) -> Response:
        (self.flash.settings.password,) = struct.unpack(">I", params[:4])
        self.flash.save_settings()
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _vfy_pwd(self, params: bytes) -> Response:
        (pwd,) = struct.unpack(">I", params[:4])
        if pwd != self.flash.settings.password:
            return self._ack(WRONG_PASSWORD)
        self.verified = self.password_checked = True
        return self._ack(OK)

    def _random(self, _: bytes) -> Response:
        return self._ack(OK, self.rng.getrandbits(32).to_bytes(4, "big"))

    def _set_addr(self, params: bytes) -> Response:
        (new,) = struct.unpack(">I", params[:4])
        self.flash.settings.address = new
        self.flash.save_settings()
        self.address = new  # §2.1: the ack already carries the new address
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _write_notepad(self, params: bytes) -> Response:
        page = params[0]
        if page >= NOTEPAD_PAGES:
            return self._ack(BAD_NOTEPAD_PAGE)
        if len(params) < 1 + NOTEPAD_PAGE_SIZE:
            return self._ack(ERR_RECEIVE)
        self.flash.write_notepad(page, params[1 : 1 + NOTEPAD_PAGE_SIZE])
        return self._ack(OK, busy_s=self.timing.flash_write_s)

    def _read_notepad(self, params: bytes) -> Response:
        page = params[0]
        if page >= NOTEPAD_PAGES:
            return self._ack(BAD_NOTEPAD_PAGE)
        return self._ack(OK, self.flash.notepad(page))

    def _template_num(self, _: bytes) -> Response:
        return self._ack(OK, len(self._library).to_bytes(2, "big"))

    def _index_table(self, params: bytes) -> Response:
        page = params[0]
        table = bytearray(32)
        for slot in self._library:
            rel = slot - 256 * page
            if 0 <= rel < 256:
                table[rel // 8] |= 1 << (rel % 8)  # §2.1: bit 0 = lowest slot
        return self._ack(OK, bytes(table))

    def _aura(self, params: bytes) -> Response:
        if len(params) < 4:
            return self._ack(ERR_RECEIVE)
        mode, speed, colour, cycles = params[:4]
        self.led = LedState(mode, colour, speed, cycles)
        return self._ack(OK)

    def _led_on(self, _: bytes) -> Response:
        self.led = LedState(mode=3)
        return self._ack(OK)

    def _led_off(self, _: bytes) -> Response:
        self.led = LedState(mode=4)
        return self._ack(OK)

    def _check_sensor(self, _: bytes) -> Response:
        return self._ack(SENSOR_ABNORMAL if self.sensor_fault else OK)

    def _version(self, _: bytes) -> Response:
        return self._ack(OK, b"hadir-sim R503 1.0".ljust(32, b"\x00"))

    def _soft_reset(self, _: bytes) -> Response:
        ack = self._ack(OK)
        ack.raw_after = bytes((self.profile.boot_byte or 0x55,))
        ack.reset_after = True
        return ack

    def _simple_ok(self, _: bytes) -> Response:
        return self._ack(OK)

    def _echo(self, _: bytes) -> Response:
        return self._ack(ECHO_OK)


_HANDLERS: dict[int, Callable[[R307Model, bytes], Response]] = {
    0x01: R307Model._gen_img,
    0x02: R307Model._img2tz,
    0x03: R307Model._match,
    0x04: R307Model._search,
    0x05: R307Model._reg_model,
    0x06: R307Model._store,
    0x07: R307Model._load_char,
    0x08: R307Model._up_char,
    0x09: R307Model._down_char,
    0x0A: R307Model._up_image,
    0x0B: R307Model._down_image,
    0x0C: R307Model._delete,
    0x0D: R307Model._empty,
    0x0E: R307Model._set_sys_para,
    0x0F: R307Model._read_sys_para,
    0x12: R307Model._set_pwd,
    0x13: R307Model._vfy_pwd,
    0x14: R307Model._random,
    0x15: R307Model._set_addr,
    0x18: R307Model._write_notepad,
    0x19: R307Model._read_notepad,
    0x1B: R307Model._search,
    0x1D: R307Model._template_num,
    0x1F: R307Model._index_table,
    0x28: R307Model._gen_img_ex,
    0x30: R307Model._simple_ok,
    0x35: R307Model._aura,
    0x36: R307Model._check_sensor,
    0x39: R307Model._version,
    0x3A: R307Model._version,
    0x3D: R307Model._soft_reset,
    0x40: R307Model._simple_ok,
    0x50: R307Model._led_on,
    0x51: R307Model._led_off,
    0x53: R307Model._echo,
}

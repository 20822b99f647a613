"""Model profiles (which module is simulated) and timing profiles (how fast it answers).

Figures come from r307-protocol.md §2 (instruction sets), §4.1 (parameter block) and §5
(per-model capacity and timing). Codes above 0x1F differ between firmware families (§2.4), so
each profile lists the optional instructions it really has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Core ZFM-20 instruction set shared by every profile (§2.1).
CORE = frozenset(
    {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F}
    | {0x12, 0x13, 0x14, 0x15, 0x1D, 0x1F}
)
# Extended Synochip set found on R30x boards (§2.2): notepad, HighSpeedSearch.
EXTENDED = frozenset({0x18, 0x19, 0x1B})


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One module family as seen over its UART."""

    name: str
    capacity: int
    instructions: frozenset[int]
    # How the firmware answers an instruction it does not have: a confirmation code, or None for
    # silence (§2.4: the R503 says 0xFC, older modules 0x01 or nothing).
    unknown_reply: int | None
    has_wake_pin: bool
    # Raw byte sent when the module finishes booting (§8.4); None if it sends nothing.
    boot_byte: int | None
    image_width: int = 256
    image_height: int = 288
    template_size: int = 512
    system_id: int = 0x0000
    security_level: int = 3
    packet_code: int = 2
    baud_n: int = 6
    aliases: tuple[str, ...] = field(default=())


MODELS: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            name="r307",
            capacity=1000,
            instructions=CORE | EXTENDED,
            unknown_reply=0x01,
            has_wake_pin=True,
            boot_byte=None,
        ),
        ModelProfile(
            name="zfm20",
            capacity=162,
            instructions=CORE | EXTENDED,
            unknown_reply=0x01,
            has_wake_pin=False,
            boot_byte=None,
        ),
        ModelProfile(
            name="as608",
            capacity=300,
            # FPM10A/AS608 boards: OpenLED/CloseLED and the 0x53 echo handshake (§2.4).
            instructions=CORE | EXTENDED | {0x50, 0x51, 0x53},
            unknown_reply=0x01,
            has_wake_pin=True,
            boot_byte=None,
        ),
        ModelProfile(
            name="r503",
            capacity=200,
            # Grow R503 additions (§2.3): GetImageEx, Cancel, Aura LED, CheckSensor, version
            # strings, SoftRst, HandShake.
            instructions=CORE | EXTENDED | {0x28, 0x30, 0x35, 0x36, 0x39, 0x3A, 0x3D, 0x40},
            unknown_reply=0xFC,
            has_wake_pin=True,
            boot_byte=0x55,
            image_width=192,
            image_height=192,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds each operation keeps the module busy, and whether the UART byte rate is paced."""

    name: str
    capture_s: float = 0.0  # GenImg with a finger
    no_finger_s: float = 0.0  # GenImg without one
    extract_s: float = 0.0  # Img2Tz
    search_base_s: float = 0.0
    search_per_template_s: float = 0.0
    merge_s: float = 0.0
    flash_write_s: float = 0.0  # Store, DeletChar, Empty, SetSysPara, SetPwd, notepad
    command_s: float = 0.0  # anything else
    pace_uart: bool = False
    boot_s: float = 0.0


TIMINGS: dict[str, Timing] = {
    "instant": Timing(name="instant"),
    # §5.1/§5.2: R307 image < 0.3 s, feature extraction up to 0.5 s, search < 1 s at 1:1000,
    # flash writes want >= 250 ms; every reply stays well under pyfingerprint's 2 s (§6.6).
    "datasheet": Timing(
        name="datasheet",
        capture_s=0.25,
        no_finger_s=0.02,
        extract_s=0.30,
        search_base_s=0.02,
        search_per_template_s=0.0008,
        merge_s=0.05,
        flash_write_s=0.25,
        command_s=0.002,
        pace_uart=True,
        boot_s=0.2,
    ),
}


def model(name: str) -> ModelProfile:
    """Look up a model profile by name, with a message listing the known ones."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown module model {name!r}; known: {', '.join(MODELS)}") from None


def timing(name: str) -> Timing:
    """Look up a timing profile by name, with a message listing the known ones."""
    try:
        return TIMINGS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown timing profile {name!r}; known: {', '.join(TIMINGS)}") from None

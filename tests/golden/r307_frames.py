"""Golden R307 frames, hand-copied from /work/shared/docs/r307-protocol.md §1.4 and §1.5.

Every byte string below is typed from the protocol reference, never produced by the project's
framing code: a checksum or length bug shared by the simulator and its tests must fail here.
All frames use the default module address FF FF FF FF. ``bytes.fromhex`` only strips the
spaces; the digits are the document's.
"""

from __future__ import annotations

# -- §1.4 worked example: VfyPwd with the default password ---------------------------------------

VFYPWD_DEFAULT = bytes.fromhex("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B")
ACK_OK = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")
ACK_WRONG_PASSWORD = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 13 00 1D")

# -- §1.5 canonical frames --------------------------------------------------------------------

GENIMG = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 01 00 05")
ACK_NO_FINGER = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 02 00 0C")
IMG2TZ_BUF1 = bytes.fromhex("EF 01 FF FF FF FF 01 00 04 02 01 00 08")
SEARCH_BUF1_START0_COUNT1000 = bytes.fromhex("EF 01 FF FF FF FF 01 00 08 04 01 00 00 03 E8 00 F9")
ACK_SEARCH_FOUND_ID5_SCORE150 = bytes.fromhex("EF 01 FF FF FF FF 07 00 07 00 00 05 00 96 00 A9")
ACK_SEARCH_NOT_FOUND = bytes.fromhex("EF 01 FF FF FF FF 07 00 07 09 00 00 00 00 00 17")
TEMPLETENUM = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 1D 00 21")
ACK_TEMPLETENUM_3 = bytes.fromhex("EF 01 FF FF FF FF 07 00 05 00 00 03 00 0F")
READSYSPARA = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 0F 00 13")
ACK_READSYSPARA_R307 = bytes.fromhex(
    "EF 01 FF FF FF FF 07 00 13 00 00 00 00 00 03 E8 00 03 FF FF FF FF 00 02 00 06 05 0C"
)
READINDEXTABLE_PAGE0 = bytes.fromhex("EF 01 FF FF FF FF 01 00 04 1F 00 00 24")
STORE_BUF1_ID5 = bytes.fromhex("EF 01 FF FF FF FF 01 00 06 06 01 00 05 00 13")
DELETCHAR_ID5_COUNT1 = bytes.fromhex("EF 01 FF FF FF FF 01 00 07 0C 00 05 00 01 00 1A")
EMPTY = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 0D 00 11")
MATCH = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 03 00 07")
UPCHAR_BUF1 = bytes.fromhex("EF 01 FF FF FF FF 01 00 04 08 01 00 0E")
DOWNCHAR_BUF1 = bytes.fromhex("EF 01 FF FF FF FF 01 00 04 09 01 00 0F")
UPIMAGE = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 0A 00 0E")
SETSYSPARA_SECURITY_4 = bytes.fromhex("EF 01 FF FF FF FF 01 00 05 0E 05 04 00 1D")
GETRANDOMCODE = bytes.fromhex("EF 01 FF FF FF FF 01 00 03 14 00 18")
AURALEDCONFIG_BREATHE_SPEED80_BLUE_INFINITE = bytes.fromhex(
    "EF 01 FF FF FF FF 01 00 07 35 01 80 02 00 00 C0"
)

# -- §1.5 real device: ReadSysPara ack from Adafruit CircuitPython issue #30 (PID 4750) ---------
# status 0, system id 0, capacity 80, security 3, address FFFFFFFF, packet code 2, baud N 12.

ACK_READSYSPARA_PID4750 = bytes.fromhex(
    "EF01 FFFFFFFF 07 0013 00 0000 0000 0050 0003 FFFFFFFF 0002 000C 0477"
)

# -- groupings for parametrised tests -----------------------------------------------------------

COMMANDS: dict[str, bytes] = {
    "VfyPwd default": VFYPWD_DEFAULT,
    "GenImg": GENIMG,
    "Img2Tz buf1": IMG2TZ_BUF1,
    "Search buf1 0..1000": SEARCH_BUF1_START0_COUNT1000,
    "TempleteNum": TEMPLETENUM,
    "ReadSysPara": READSYSPARA,
    "ReadIndexTable page0": READINDEXTABLE_PAGE0,
    "Store buf1 id5": STORE_BUF1_ID5,
    "DeletChar id5 count1": DELETCHAR_ID5_COUNT1,
    "Empty": EMPTY,
    "Match": MATCH,
    "UpChar buf1": UPCHAR_BUF1,
    "DownChar buf1": DOWNCHAR_BUF1,
    "UpImage": UPIMAGE,
    "SetSysPara security4": SETSYSPARA_SECURITY_4,
    "GetRandomCode": GETRANDOMCODE,
    "AuraLedConfig": AURALEDCONFIG_BREATHE_SPEED80_BLUE_INFINITE,
}

REPLIES: dict[str, bytes] = {
    "ack ok": ACK_OK,
    "ack wrong password": ACK_WRONG_PASSWORD,
    "ack no finger": ACK_NO_FINGER,
    "ack search found": ACK_SEARCH_FOUND_ID5_SCORE150,
    "ack search not found": ACK_SEARCH_NOT_FOUND,
    "ack templetenum 3": ACK_TEMPLETENUM_3,
    "ack readsyspara r307": ACK_READSYSPARA_R307,
    "ack readsyspara pid4750": ACK_READSYSPARA_PID4750,
}

ALL_FRAMES: dict[str, bytes] = {**COMMANDS, **REPLIES}

"""Simulated fingers: identities whose every capture differs a little, and a matcher.

A finger is any label. Its ridge detail is a fixed feature vector seeded by the label; each
capture changes a share of the features at random, so two captures of one finger are close but
never equal, and two fingers agree only by chance. Scores land where real modules put them
(roughly 50-250 for the same finger, near 0 for another; r307-protocol.md §10).

Character file layout (256 bytes, as dumped from a ZFM/R307 in pyfingerprint #59): ``03 01``,
a quality byte, a feature count, the features, zero padding. A CharBuffer or template is 512
bytes: two such halves (after RegModel, one from each capture).
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass

FEATURES = 96
HALF = 256
TEMPLATE_SIZE = 2 * HALF
_OFFSET = 4
# Share of features a capture gets wrong; with two template halves a genuine capture agrees on
# about 87 % of the features and an impostor on about 1 %.
CAPTURE_NOISE = 0.12
_SCORE_SCALE = 250
# Minimum score counted as a match per security level 1..5 (1 = most permissive, §4.3).
THRESHOLDS = {1: 30, 2: 40, 3: 50, 4: 60, 5: 70}


class Quality(enum.Enum):
    """How well the finger lies on the glass for one capture."""

    GOOD = "good"
    WET = "wet"  # image too messy to extract features: Img2Tz 0x06
    DRY = "dry"  # too few feature points: Img2Tz 0x07
    PARTIAL = "partial"  # misplaced, too little of the finger: Img2Tz 0x07
    SMUDGE = "smudge"  # the capture itself fails: GenImg 0x03


@dataclass(frozen=True, slots=True)
class Capture:
    """One image on the glass: whose finger, how good, and the features it would yield."""

    finger: str
    quality: Quality
    features: bytes


def base_features(finger: str) -> bytes:
    """The finger's true feature vector, the same on every run and machine."""
    return hashlib.shake_256(b"hadir-sim-finger:" + finger.encode()).digest(FEATURES)


def capture(finger: str, quality: Quality, rng: random.Random) -> Capture:
    """Take one noisy capture of ``finger``."""
    feats = bytearray(base_features(finger))
    for i in range(FEATURES):
        if rng.random() < CAPTURE_NOISE:
            feats[i] = rng.randrange(256)
    return Capture(finger, quality, bytes(feats))


def char_file(features: bytes, quality: int = 0x50) -> bytes:
    """A 256-byte character file holding ``features``."""
    body = bytes((0x03, 0x01, quality, len(features))) + features
    return body + bytes(HALF - len(body))


def char_buffer(features: bytes) -> bytes:
    """What Img2Tz leaves in a CharBuffer: one character file and an empty second half."""
    return char_file(features) + bytes(HALF)


def halves(buffer: bytes) -> list[bytes]:
    """The feature vectors a buffer or template carries (one or two)."""
    out = []
    for start in (0, HALF):
        half = buffer[start : start + HALF]
        if len(half) == HALF and half[:2] == b"\x03\x01":
            out.append(half[_OFFSET : _OFFSET + FEATURES])
    return out


def score(a: bytes, b: bytes) -> int:
    """Match score between two buffers/templates; 0 if either holds no features."""
    ha, hb = halves(a), halves(b)
    if not ha or not hb:
        return 0
    best = 0
    for x in ha:
        if len(hb) == 2:
            y1, y2 = hb
            agree = sum(1 for c, p, q in zip(x, y1, y2, strict=True) if c in (p, q))
        else:
            agree = sum(1 for c, p in zip(x, hb[0], strict=True) if c == p)
        best = max(best, agree)
    return best * _SCORE_SCALE // FEATURES


def merge(a: bytes, b: bytes) -> bytes:
    """RegModel: a template from two character buffers (first half of each)."""
    return a[:HALF] + b[:HALF]


def image_bytes(cap: Capture | None, width: int, height: int) -> bytes:
    """UpImage payload: 4-bit pixels, two per byte (§2.5), deterministic per capture."""
    seed = cap.features if cap else b"empty"
    return random.Random(seed).randbytes(width * height // 2)

"""Every string a person at a terminal reads: Bahasa Indonesia first, English beside it."""

from __future__ import annotations

PROMPTS: dict[str, tuple[str, str]] = {
    "place": ("Letakkan jari Anda pada sensor", "Place your finger on the sensor"),
    "lift": ("Angkat jari Anda", "Lift your finger"),
    "place-again": ("Letakkan jari yang sama sekali lagi", "Place the same finger again"),
    "retry": ("Gambar kurang jelas, coba lagi", "Image unclear, try again"),
    "done": ("Sidik jari tersimpan", "Fingerprint stored"),
    "duplicate": (
        "Jari ini sudah terdaftar (slot {slot})",
        "This finger is already enrolled (slot {slot})",
    ),
    "mismatch": ("Jari tidak sama, ulangi pendaftaran", "Not the same finger; start again"),
    "found": ("Dikenali: slot {slot}, skor {score}", "Identified: slot {slot}, score {score}"),
    "unknown": ("Sidik jari tidak dikenal", "Fingerprint not recognised"),
    "waiting": (
        "Menunggu jari... (Ctrl-C untuk berhenti)",
        "Waiting for a finger... (Ctrl-C stops)",
    ),
    "offline": ("Sensor tidak terhubung: {detail}", "Sensor offline: {detail}"),
}


def say(key: str, **values: object) -> str:
    """The prompt ``key`` as one line: Bahasa, then English in brackets."""
    bahasa, english = PROMPTS[key]
    return f"{bahasa.format(**values)} ({english.format(**values)})"

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
    # -- the technician's commands (hadir-edge enroll|verify|delete|list|info|sync) ----------
    "enroll-start": (
        "Mendaftarkan {finger_id} {name} ({number}) ke slot {slot}",
        "Enrolling the {finger} of {name} ({number}) into slot {slot}",
    ),
    "enrolled": (
        "Terdaftar: {finger_id} {name} ({number}), slot {slot}, skor verifikasi {score}",
        "Enrolled: {finger} of {name} ({number}), slot {slot}, verify score {score}",
    ),
    "capacity-warning": (
        "Peringatan: pustaka sidik jari {percent}% terisi ({used} dari {capacity})",
        "Warning: the fingerprint library is {percent}% full ({used} of {capacity})",
    ),
    "library-full": (
        "Pustaka sidik jari penuh ({used} dari {capacity}); hapus sidik jari yang tidak "
        "dipakai dulu",
        "The fingerprint library is full ({used} of {capacity}); delete unused fingers first",
    ),
    "no-roster": (
        "Daftar pegawai belum diterima dari server pusat; tunggu atau jalankan 'hadir-edge sync'",
        "The central has not sent the roster yet; wait, or run 'hadir-edge sync'",
    ),
    "not-in-roster": (
        "Nomor {number} tidak ada dalam daftar pegawai terminal ini",
        "Number {number} is not in this terminal's roster",
    ),
    "invalid-finger": (
        "Jari {finger!r} tidak dikenal; pilih salah satu: {choices}",
        "Unknown finger {finger!r}; choose one of: {choices}",
    ),
    "duplicate-of": (
        "Jari ini sudah terdaftar: slot {slot}, {finger_id} {name} ({number})",
        "This finger is already enrolled: slot {slot}, {finger} of {name} ({number})",
    ),
    "enroll-timeout": (
        "Waktu habis menunggu jari; tidak ada yang disimpan",
        "Timed out waiting for the finger; nothing was stored",
    ),
    "enroll-poor": (
        "Gambar sidik jari kurang jelas; tidak ada yang disimpan, ulangi",
        "The fingerprint image is unclear; nothing was stored, start again",
    ),
    "cancelled": (
        "Dibatalkan; tidak ada yang disimpan",
        "Cancelled; nothing was stored",
    ),
    "sensor-error": (
        "Sensor bermasalah: {detail}; tidak ada yang disimpan",
        "Sensor problem: {detail}; nothing was stored",
    ),
    "verify-place": (
        "Letakkan jari yang akan diperiksa pada sensor",
        "Place the finger to check on the sensor",
    ),
    "verify-found": (
        "Dikenali: {finger_id} {name} ({number}), slot {slot}, skor {score}",
        "Identified: {finger} of {name} ({number}), slot {slot}, score {score}",
    ),
    "verify-unmapped": (
        "Dikenali di slot {slot} (skor {score}) tetapi slot ini tidak terpetakan ke pegawai; "
        "jalankan 'hadir-edge sync'",
        "Matched slot {slot} (score {score}) but the slot is not mapped to anyone; "
        "run 'hadir-edge sync'",
    ),
    "verify-timeout": (
        "Waktu habis menunggu jari",
        "Timed out waiting for a finger",
    ),
    "deleted": (
        "Dihapus: {finger_id} {number}, slot {slot}",
        "Deleted: {finger} of {number}, slot {slot}",
    ),
    "not-enrolled": (
        "Tidak ada sidik jari terdaftar untuk {number}",
        "No finger is enrolled for {number}",
    ),
    "finger-not-enrolled": (
        "{finger_id} {number} tidak terdaftar",
        "The {finger} of {number} is not enrolled",
    ),
    "slot-map-unavailable": (
        "Peta slot tidak tersedia di daemon ini",
        "The slot map is not available in this daemon",
    ),
    "listed": (
        "{count} sidik jari terdaftar di terminal ini",
        "{count} fingers enrolled on this terminal",
    ),
    "info": (
        "Pustaka {used} dari {capacity} ({percent}%), {mapped} terpetakan, "
        "{roster} pegawai dalam daftar, sensor {sensor}",
        "Library {used} of {capacity} ({percent}%), {mapped} mapped, "
        "{roster} people in the roster, sensor {sensor}",
    ),
    "sync-requested": (
        "Sinkronisasi dengan server pusat dimulai",
        "Sync with the central requested",
    ),
    "busy": (
        "Daemon sibuk; coba lagi sebentar",
        "The daemon is busy; try again shortly",
    ),
    "internal-error": (
        "Kesalahan di daemon ({detail}); lihat 'journalctl -u hadir-edge'",
        "Error in the daemon ({detail}); see 'journalctl -u hadir-edge'",
    ),
    "bad-request": ("Permintaan tidak valid: {detail}", "Invalid request: {detail}"),
    "socket-missing": (
        "Daemon hadir-edge tidak berjalan: soket {path} tidak ada. Jalankan "
        "'sudo systemctl start hadir-edge'",
        "The hadir-edge daemon is not running: socket {path} does not exist. Run "
        "'sudo systemctl start hadir-edge'",
    ),
    "daemon-down": (
        "Daemon hadir-edge tidak berjalan (soket {path} tidak menjawab). Jalankan "
        "'sudo systemctl start hadir-edge'",
        "The hadir-edge daemon is not running (socket {path} refuses connections). Run "
        "'sudo systemctl start hadir-edge'",
    ),
    "permission-denied": (
        "Tidak ada izin membuka {path}: tambahkan user ke grup hadir-admin "
        "('sudo usermod -aG hadir-admin $USER', lalu login ulang)",
        "Permission denied on {path}: add your user to the hadir-admin group "
        "('sudo usermod -aG hadir-admin $USER', then log in again)",
    ),
    "daemon-lost": (
        "Sambungan ke daemon terputus: {detail}; periksa 'systemctl status hadir-edge'",
        "Lost the connection to the daemon: {detail}; check 'systemctl status hadir-edge'",
    ),
    "interrupted": (
        "Dihentikan oleh pengguna; daemon membatalkan operasi",
        "Interrupted; the daemon cancels the operation",
    ),
}


def say(key: str, **values: object) -> str:
    """The prompt ``key`` as one line: Bahasa, then English in brackets."""
    bahasa, english = PROMPTS[key]
    return f"{bahasa.format(**values)} ({english.format(**values)})"


def press_step(line: str) -> str | None:
    """What a printed enrollment prompt asks of the person at the glass: "place", "lift" or None.

    For whoever plays that person (the demo, the tests): they follow the CLI's lines as a person
    follows the technician, keyed on the prompts themselves rather than on copies of their
    wording.
    """
    for key, step in (("place", "place"), ("place-again", "place"), ("lift", "lift")):
        if line.startswith(PROMPTS[key][0]):
            return step
    return None

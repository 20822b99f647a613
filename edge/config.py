"""The edge daemon's configuration: one TOML file read into frozen dataclasses, every key checked.

``load(path)`` is the only way in. Every key of every section is checked for type and range, an
unknown key is an error with a suggestion (a typo must never be silently ignored), and every error
is a :class:`ConfigError` naming the file, the key path, what is wrong and what is expected::

    /etc/hadir/edge.toml: [mqtt].port: must be 1-65535, got 70000
    /etc/hadir/edge.toml: [mqtt].hots: unknown key (did you mean 'host'?)

The keys of a section are exactly the fields of its dataclass, and ``config.example.toml`` at the
repository root documents each one (a test keeps the two in step). Relative paths in the file are
relative to the file's own directory.

Secrets: ``password`` or ``password_file`` (never both) in ``[sensor]`` and ``[mqtt]``; a secret
file should be mode 0600 (a wider mode is logged as a warning). The environment variable
``HADIR_MQTT_PASSWORD``, when set, overrides the MQTT password from the file outright (a
``password_file`` is then not read at all). Secret fields are left out of ``repr()``, and
:func:`redact` gives a loggable dict with each secret as ``"***"``; error messages never show a
secret's value.

Not checked here, on purpose: whether the sensor's device path exists (a USB adapter may appear
later; the sensor layer reports it) and whether a ``sim:`` model is known (``edge.sensor`` does).
This module imports only the standard library.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

MQTT_PASSWORD_ENV: Final = "HADIR_MQTT_PASSWORD"  # noqa: S105 - the variable's name, not a secret
"""When set, this environment variable overrides ``[mqtt].password`` and ``password_file``."""
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
REDACTED: Final = "***"

_SECRET: Final = {"secret": True}
_U32: Final = 0xFFFF_FFFF
_MAX_BCM_PIN: Final = 27
# The device id becomes a topic level (hadir/v1/dev/{id}/...): the same rule as wire.topics.
_DEVICE_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# edge.sensor.open_sensor's grammar; the sensor layer checks that MODEL and TIMING exist.
_SIM_SPEC: Final = re.compile(r"sim:[a-z0-9]+(:[a-z0-9]+)?", re.IGNORECASE)

# An X25519 public key: 32 bytes, 44 characters of base64 (wire.sealing.public_key_text).
_KEY_BYTES: Final = 32
_KEY_TEXT: Final = 44
_GROUP: Final = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

Scalar = str | int | float | bool | None


class ConfigError(ValueError):
    """The configuration file is unreadable or breaks a rule; the message says which and how.

    Attributes:
        source: The file, as given to :func:`load`.
        key: The key path (``[mqtt].port``), a section (``[mqt]``), or "" for the whole file.
        problem: What is wrong and what is expected.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    """``[device]``: which terminal this is and where it keeps its state."""

    id: str
    state_dir: Path = Path("/var/lib/hadir")
    site: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    """``[sensor]``: the R307 module (or a named simulator) and how to drive it.

    ``password`` is the resolved module password, whether it was written inline or read from
    ``password_file`` (then also recorded there).
    """

    port: str
    baud: int = 57600
    address: int = 0xFFFF_FFFF
    password: int = field(default=0, repr=False, metadata=_SECRET)
    password_file: Path | None = None
    timeout_s: float = 2.0
    touch_pin: int | None = None
    power_pin: int | None = None
    poll_interval_s: float = 0.15
    health_probe_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PunchConfig:
    """``[punch]``: when a second press is the same punch."""

    repeat_window_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackConfig:
    """``[feedback]``: BCM pin numbers of the LEDs and buzzer; None means not wired."""

    green_pin: int | None = 23
    red_pin: int | None = 24
    amber_pin: int | None = 25
    buzzer_pin: int | None = 18
    pin_factory: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    """``[mqtt]``: the broker connection and the publisher's pacing.

    ``port`` and ``username`` have no defaults here because their defaults depend on other keys
    (``tls``, ``[device].id``); :func:`load` fills them in. ``password`` is the resolved secret
    (inline, from ``password_file``, or from ``HADIR_MQTT_PASSWORD``).
    """

    host: str = "localhost"
    port: int
    tls: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str
    password: str | None = field(default=None, repr=False, metadata=_SECRET)
    password_file: Path | None = None
    keepalive_s: int = 30
    batch_size: int = 100
    ack_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    heartbeat_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """``[store]``: how long acknowledged punches stay on the Pi."""

    retention_days: int = 90


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncConfig:
    """``[sync]``: template sync with the central (docs/template-sync.md).

    ``central_key`` is the central's X25519 public key (44 characters of base64, as
    ``hadir-central device add`` prints it). Without it sync is off: punching works, enrollment
    is refused, no template leaves or reaches this terminal.
    """

    central_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminConfig:
    """``[admin]``: the Unix socket the technician's CLI talks to.

    ``group`` may connect (mode 0660); None: only the daemon's own user (mode 0600).
    """

    socket: Path = Path("/run/hadir/admin.sock")
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """``[log]``: the daemon's log level."""

    level: str = "INFO"


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeConfig:
    """The whole edge configuration; each field is one TOML section of the same name."""

    device: DeviceConfig
    sensor: SensorConfig
    punch: PunchConfig = field(default_factory=PunchConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    mqtt: MqttConfig
    store: StoreConfig = field(default_factory=StoreConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    log: LogConfig = field(default_factory=LogConfig)


_ABSENT: Final = object()


def _show(value: object) -> str:
    """Write a value the way it looks in TOML, so `"1883"` and `true` show what went wrong."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _suggest(word: str, known: list[str], fmt: str = "'{}'") -> str:
    match = difflib.get_close_matches(word, known, n=1)
    if match:
        return f" (did you mean {fmt.format(match[0])}?)"
    return f" (known: {', '.join(fmt.format(k) for k in known)})"


class _Table:
    """One TOML section being read: typed getters whose errors name the key and the value."""

    def __init__(self, source: str, base: Path, name: str, raw: object, schema: type) -> None:
        self.source, self.base, self.name = source, base, name
        if not isinstance(raw, dict):
            raise ConfigError(source, f"[{name}]", f"must be a table, got {_show(raw)}")
        self.raw: dict[str, object] = raw
        specs: tuple[Field[Any], ...] = fields(schema)
        self.secret = {f.name for f in specs if f.metadata.get("secret")}
        known = [f.name for f in specs]
        for key in raw:
            if key not in known:
                raise self.error(key, "unknown key" + _suggest(key, known))

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"[{self.name}].{key}", problem)

    def bad(self, key: str, expected: str, value: object) -> ConfigError:
        shown = "a value (hidden: it is a secret)" if key in self.secret else _show(value)
        return self.error(key, f"must be {expected}, got {shown}")

    def has(self, key: str) -> bool:
        return key in self.raw

    def integer(self, key: str, default: int, lo: int, hi: int, expected: str = "") -> int:
        value = self.raw.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        expected = expected or f"an integer {lo}-{hi}"
        # bool is a subclass of int in Python, but `port = true` is a mistake, not port 1.
        if type(value) is not int or not lo <= value <= hi:
            raise self.bad(key, expected, value)
        return value

    def seconds(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        value = self.raw.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        expected = "a number of seconds " + (">= 0" if allow_zero else "> 0")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
            or (value == 0 and not allow_zero)
        ):
            raise self.bad(key, expected, value)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        if not isinstance(value, bool):
            raise self.bad(key, "true or false", value)
        return value

    def text(self, key: str) -> str | None:
        """Return the key's non-empty string, or None when the key is absent."""
        value = self.raw.get(key, _ABSENT)
        if value is _ABSENT:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.bad(key, "a non-empty string", value)
        return value

    def string(self, key: str, default: str) -> str:
        value = self.text(key)
        return default if value is None else value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.error(key, "missing (this key is required)")
        return value

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        return None if value is None else self.base / Path(value).expanduser()

    def pin(self, key: str, default: int | None) -> int | None:
        value = self.raw.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        if value is False:
            return None
        expected = f"a BCM GPIO number 0-{_MAX_BCM_PIN}, or false if not wired"
        return self.integer(key, 0, 0, _MAX_BCM_PIN, expected)

    def readable_file(self, key: str) -> Path | None:
        """Return the path the key names after checking that it can be read."""
        path = self.path(key)
        if path is not None:
            try:
                path.open("rb").close()
            except OSError as exc:
                raise self.error(key, f"cannot read {path}: {exc.strerror or exc}") from exc
        return path

    def secret_file(self, key: str) -> Path | None:
        """Like :meth:`readable_file`, and warn when others than its owner may read the file."""
        path = self.readable_file(key)
        if path is not None and (mode := path.stat().st_mode & 0o777) & 0o077:
            log.warning(
                "secret file readable by others key=[%s].%s path=%s mode=%04o want=0600",
                self.name,
                key,
                path,
                mode,
            )
        return path

    def secret_text(self, key: str) -> tuple[Path, str] | None:
        """Read the secret in the file the key names (one line; the newline is dropped)."""
        path = self.secret_file(key)
        if path is None:
            return None
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(key, f"cannot read {path} as UTF-8 text: {exc}") from exc
        if not secret:
            raise self.error(key, f"{path} is empty")
        return path, secret

    def exclusive(self, a: str, b: str) -> None:
        if self.has(a) and self.has(b):
            raise self.error(b, f"cannot be used together with {a}; keep one of them")


def load(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> EdgeConfig:
    """Read and check the edge configuration file.

    Args:
        path: The TOML file, e.g. ``/etc/hadir/edge.toml``.
        environ: Where to look for ``HADIR_MQTT_PASSWORD``; ``os.environ`` when None.

    Returns:
        The configuration, every default filled in and every secret resolved.

    Raises:
        ConfigError: The file cannot be read, is not TOML, or breaks a rule; the message names
            the file, the key and the expected value.
    """
    file = Path(path)
    source = str(file)
    try:
        with file.open("rb") as stream:
            raw = tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
    sections = [f.name for f in fields(EdgeConfig)]
    for name, value in raw.items():
        if name not in sections:
            hint = _suggest(name, sections, "[{}]")
            what = "unknown section" if isinstance(value, dict) else "key outside any section"
            raise ConfigError(source, f"[{name}]" if isinstance(value, dict) else name, what + hint)

    def table(name: str, schema: type) -> _Table:
        return _Table(source, file.parent, name, raw.get(name, {}), schema)

    device = _device(table("device", DeviceConfig))
    config = EdgeConfig(
        device=device,
        sensor=_sensor(table("sensor", SensorConfig)),
        punch=PunchConfig(
            repeat_window_s=table("punch", PunchConfig).seconds(
                "repeat_window_s", PunchConfig().repeat_window_s, allow_zero=True
            )
        ),
        feedback=_feedback(table("feedback", FeedbackConfig)),
        mqtt=_mqtt(table("mqtt", MqttConfig), device, os.environ if environ is None else environ),
        store=StoreConfig(
            retention_days=table("store", StoreConfig).integer(
                "retention_days", StoreConfig().retention_days, 1, 36500, "whole days 1-36500"
            )
        ),
        sync=_sync(table("sync", SyncConfig)),
        admin=_admin(table("admin", AdminConfig)),
        log=_log(table("log", LogConfig)),
    )
    _check_pins(source, config)
    if _has_inline_secret(raw) and file.stat().st_mode & 0o077:
        log.warning(
            "config holds a password and is readable by others path=%s mode=%04o want=0600 "
            "(or move the password to a password_file)",
            file,
            file.stat().st_mode & 0o777,
        )
    return config


def _device(t: _Table) -> DeviceConfig:
    device_id = t.required_text("id")
    if _DEVICE_ID.fullmatch(device_id) is None:
        raise t.error(
            "id",
            "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit "
            f"(it becomes part of MQTT topics), got {_show(device_id)}",
        )
    state_dir = t.path("state_dir") or DeviceConfig(id=device_id).state_dir
    return DeviceConfig(id=device_id, state_dir=state_dir, site=t.text("site"))


def _sensor(t: _Table) -> SensorConfig:
    d = SensorConfig(port="")  # a prototype for the defaults; port is required below
    port = t.required_text("port")
    if not (port.startswith("/") or _SIM_SPEC.fullmatch(port)):
        raise t.error(
            "port",
            'must be a device path such as "/dev/serial0" or a simulator spec '
            f'"sim:MODEL[:TIMING]" such as "sim:r307", got {_show(port)}',
        )
    baud = t.integer("baud", d.baud, 9600, 115200, "9600*N for N 1-12 (9600, 19200 ... 115200)")
    if baud % 9600:
        raise t.bad("baud", "9600*N for N 1-12 (9600, 19200 ... 115200)", baud)
    t.exclusive("password", "password_file")
    password = t.integer("password", d.password, 0, _U32, "an integer 0-0xFFFFFFFF")
    from_file = t.secret_text("password_file")
    if from_file is not None:
        password = _module_password(t, *from_file)
    return SensorConfig(
        port=port,
        baud=baud,
        address=t.integer("address", d.address, 0, _U32, "an integer 0-0xFFFFFFFF"),
        password=password,
        password_file=None if from_file is None else from_file[0],
        timeout_s=t.seconds("timeout_s", d.timeout_s),
        touch_pin=t.pin("touch_pin", d.touch_pin),
        power_pin=t.pin("power_pin", d.power_pin),
        poll_interval_s=t.seconds("poll_interval_s", d.poll_interval_s),
        health_probe_s=t.seconds("health_probe_s", d.health_probe_s),
    )


def _module_password(t: _Table, path: Path, text: str) -> int:
    """Parse the module password a file holds: one number, decimal or 0x hex."""
    try:
        value = int(text.strip(), 0)
    except ValueError:
        value = -1
    if not 0 <= value <= _U32:
        raise t.error("password_file", f"{path} must hold one number 0-0xFFFFFFFF (0x.. for hex)")
    return value


def _feedback(t: _Table) -> FeedbackConfig:
    d = FeedbackConfig()
    return FeedbackConfig(
        green_pin=t.pin("green_pin", d.green_pin),
        red_pin=t.pin("red_pin", d.red_pin),
        amber_pin=t.pin("amber_pin", d.amber_pin),
        buzzer_pin=t.pin("buzzer_pin", d.buzzer_pin),
        pin_factory=t.text("pin_factory"),
    )


def _mqtt(t: _Table, device: DeviceConfig, environ: Mapping[str, str]) -> MqttConfig:
    d = MqttConfig(port=0, username="")  # a prototype for the defaults that do not depend
    tls = t.flag("tls", d.tls)
    tls_files = {
        "ca_file": t.readable_file("ca_file"),
        "cert_file": t.readable_file("cert_file"),
        "key_file": t.secret_file("key_file"),
    }
    for key, value in tls_files.items():
        if value is not None and not tls:
            raise t.error(key, "is only used with tls = true; remove it or set tls = true")
    if tls_files["cert_file"] is not None and tls_files["key_file"] is None:
        raise t.error("key_file", "missing (required when cert_file is set)")
    if tls_files["key_file"] is not None and tls_files["cert_file"] is None:
        raise t.error("cert_file", "missing (required when key_file is set)")
    t.exclusive("password", "password_file")
    password = t.text("password")
    password_file: Path | None = None
    if MQTT_PASSWORD_ENV in environ:
        password = environ[MQTT_PASSWORD_ENV]
        if not password:
            raise ConfigError(t.source, f"${MQTT_PASSWORD_ENV}", "is set but empty; unset it")
        log.info("mqtt password from environment var=%s", MQTT_PASSWORD_ENV)
    elif (from_file := t.secret_text("password_file")) is not None:
        password_file, password = from_file
    if password is not None and not tls:
        log.warning("mqtt tls=false: the password crosses the network in clear text")
    reconnect_min_s = t.seconds("reconnect_min_s", d.reconnect_min_s)
    reconnect_max_s = t.seconds("reconnect_max_s", d.reconnect_max_s)
    if reconnect_max_s < reconnect_min_s:
        raise t.bad("reconnect_max_s", f">= reconnect_min_s ({reconnect_min_s})", reconnect_max_s)
    return MqttConfig(
        host=t.string("host", d.host),
        port=t.integer("port", 8883 if tls else 1883, 1, 65535, "1-65535"),
        tls=tls,
        ca_file=tls_files["ca_file"],
        cert_file=tls_files["cert_file"],
        key_file=tls_files["key_file"],
        username=t.string("username", device.id),
        password=password,
        password_file=password_file,
        keepalive_s=t.integer("keepalive_s", d.keepalive_s, 1, 65535, "whole seconds 1-65535"),
        batch_size=t.integer("batch_size", d.batch_size, 1, 1000, "1-1000"),
        ack_timeout_s=t.seconds("ack_timeout_s", d.ack_timeout_s),
        reconnect_min_s=reconnect_min_s,
        reconnect_max_s=reconnect_max_s,
        heartbeat_s=t.seconds("heartbeat_s", d.heartbeat_s),
    )


def _sync(t: _Table) -> SyncConfig:
    key = t.text("central_key")
    if key is None:
        return SyncConfig()
    # The stdlib check of the key's shape; wire.sealing reads it into a key at start.
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(key.strip()) != _KEY_TEXT or len(raw) != _KEY_BYTES:
        raise t.error(
            "central_key",
            f"must be the central's public key: {_KEY_TEXT} characters of base64 "
            f"({_KEY_BYTES} bytes), as `hadir-central device add` prints it; "
            f"got {len(key)} characters",
        )
    return SyncConfig(central_key=key.strip())


def _admin(t: _Table) -> AdminConfig:
    d = AdminConfig()
    socket = t.path("socket") or d.socket
    group = t.text("group")
    if group is not None and not _GROUP.fullmatch(group):
        raise t.bad("group", "a Unix group name such as hadir-admin", group)
    return AdminConfig(socket=socket, group=group)


def _log(t: _Table) -> LogConfig:
    level = t.string("level", LogConfig().level)
    if level.upper() not in LOG_LEVELS:
        raise t.bad("level", "one of " + ", ".join(LOG_LEVELS), level)
    return LogConfig(level=level.upper())


def _check_pins(source: str, config: EdgeConfig) -> None:
    """Refuse one GPIO wired to two jobs: the second device would fight the first."""
    used: dict[int, str] = {}
    for name, section in (("feedback", config.feedback), ("sensor", config.sensor)):
        for f in fields(section):
            value = getattr(section, f.name)
            if f.name.endswith("_pin") and value is not None:
                key = f"[{name}].{f.name}"
                if value in used:
                    raise ConfigError(
                        source,
                        key,
                        f"GPIO {value} is also {used[value]}; one pin cannot do two jobs "
                        "(change one, or set it to false if that part is not wired)",
                    )
                used[value] = key


def _has_inline_secret(raw: Mapping[str, object]) -> bool:
    for name in ("sensor", "mqtt"):
        section = raw.get(name)
        if isinstance(section, dict) and "password" in section:
            return True
    return False


def redact(config: EdgeConfig) -> dict[str, dict[str, Scalar]]:
    """Return the configuration as plain data fit for a log line, each secret shown as ``***``.

    Args:
        config: A loaded configuration.

    Returns:
        ``{section: {key: value}}``; paths are strings; a secret that is set is ``"***"``.
    """
    out: dict[str, dict[str, Scalar]] = {}
    for section in fields(config):
        obj = getattr(config, section.name)
        values: dict[str, Scalar] = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get("secret") and value is not None:
                value = REDACTED
            values[f.name] = str(value) if isinstance(value, Path) else value
        out[section.name] = values
    return out

"""edge.config: every rule's exact message, the defaults, secrets, and the documented example."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import get_type_hints

import pytest

from edge.config import (
    MQTT_PASSWORD_ENV,
    REDACTED,
    ConfigError,
    DeviceConfig,
    EdgeConfig,
    FeedbackConfig,
    LogConfig,
    MqttConfig,
    PunchConfig,
    SensorConfig,
    StoreConfig,
    load,
    redact,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
# Section name -> its dataclass, from EdgeConfig itself, so a new section is checked too.
SCHEMAS: dict[str, type] = get_type_hints(EdgeConfig)
DROP = object()  # as an override value: leave the key out
FROM_ENV, FROM_OS_ENV, INLINE = "from-env", "from-os-env", "inline"
Sections = dict[str, dict[str, object]]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def render(overrides: Sections) -> str:
    """A TOML file: the minimal valid config with ``overrides`` merged in (DROP removes a key)."""
    sections: Sections = {"device": {"id": "pi-01"}, "sensor": {"port": "sim:r307"}}
    for name, keys in overrides.items():
        sections.setdefault(name, {}).update(keys)
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items() if v is not DROP]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def _write(text: str) -> Path:
        path = tmp_path / "edge.toml"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return path

    return _write


@pytest.fixture
def secret(tmp_path: Path) -> Callable[..., Path]:
    def _secret(text: str | bytes, name: str = "secret", mode: int = 0o600) -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        return path

    return _secret


def load_error(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path, environ=environ or {})
    prefix = f"{path}: "
    message = str(caught.value)
    assert message.startswith(prefix), message
    return message.removeprefix(prefix)


PIN = "must be a BCM GPIO number 0-27, or false if not wired, got"
SECONDS = "must be a number of seconds > 0, got"
U32 = "must be an integer 0-0xFFFFFFFF, got"
BAUD = "must be 9600*N for N 1-12 (9600, 19200 ... 115200), got"
DEVICE_ID = (
    "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit "
    "(it becomes part of MQTT topics), got"
)
PORT = (
    'must be a device path such as "/dev/serial0" or a simulator spec "sim:MODEL[:TIMING]" '
    'such as "sim:r307", got'
)
HIDDEN = "a value (hidden: it is a secret)"
MQTT_KEYS = ", ".join(f"'{f.name}'" for f in dataclasses.fields(MqttConfig))

BAD_VALUES: list[tuple[Sections, str]] = [
    # [device]
    ({"device": {"id": DROP}}, "[device].id: missing (this key is required)"),
    ({"device": {"id": "Pi-01"}}, f'[device].id: {DEVICE_ID} "Pi-01"'),
    ({"device": {"id": "pi_01"}}, f'[device].id: {DEVICE_ID} "pi_01"'),
    ({"device": {"id": "pi/01"}}, f'[device].id: {DEVICE_ID} "pi/01"'),
    ({"device": {"id": "-pi"}}, f'[device].id: {DEVICE_ID} "-pi"'),
    ({"device": {"id": "a" * 64}}, f'[device].id: {DEVICE_ID} "{"a" * 64}"'),
    ({"device": {"id": 1}}, "[device].id: must be a non-empty string, got 1"),
    ({"device": {"id": ""}}, '[device].id: must be a non-empty string, got ""'),
    ({"device": {"state_dir": 5}}, "[device].state_dir: must be a non-empty string, got 5"),
    ({"device": {"site": True}}, "[device].site: must be a non-empty string, got true"),
    # [sensor]
    ({"sensor": {"port": DROP}}, "[sensor].port: missing (this key is required)"),
    ({"sensor": {"port": "ttyUSB0"}}, f'[sensor].port: {PORT} "ttyUSB0"'),
    ({"sensor": {"port": "sim:"}}, f'[sensor].port: {PORT} "sim:"'),
    ({"sensor": {"port": "sim:r307:"}}, f'[sensor].port: {PORT} "sim:r307:"'),
    (
        {"sensor": {"port": ["/dev/ttyS0"]}},
        "[sensor].port: must be a non-empty string, got an array",
    ),
    ({"sensor": {"baud": 57601}}, f"[sensor].baud: {BAUD} 57601"),
    ({"sensor": {"baud": 0}}, f"[sensor].baud: {BAUD} 0"),
    ({"sensor": {"baud": 9600 * 13}}, f"[sensor].baud: {BAUD} 124800"),
    ({"sensor": {"baud": True}}, f"[sensor].baud: {BAUD} true"),
    ({"sensor": {"baud": "57600"}}, f'[sensor].baud: {BAUD} "57600"'),
    ({"sensor": {"baud": 57600.0}}, f"[sensor].baud: {BAUD} 57600.0"),
    ({"sensor": {"address": -1}}, f"[sensor].address: {U32} -1"),
    ({"sensor": {"address": 0x1_0000_0000}}, f"[sensor].address: {U32} 4294967296"),
    ({"sensor": {"address": True}}, f"[sensor].address: {U32} true"),
    ({"sensor": {"password": -1}}, f"[sensor].password: {U32} {HIDDEN}"),
    ({"sensor": {"password": "1234"}}, f"[sensor].password: {U32} {HIDDEN}"),
    (
        {"sensor": {"password": 1, "password_file": "pw"}},
        "[sensor].password_file: cannot be used together with password; keep one of them",
    ),
    ({"sensor": {"timeout_s": 0}}, f"[sensor].timeout_s: {SECONDS} 0"),
    ({"sensor": {"timeout_s": -1.5}}, f"[sensor].timeout_s: {SECONDS} -1.5"),
    ({"sensor": {"timeout_s": math.inf}}, f"[sensor].timeout_s: {SECONDS} inf"),
    ({"sensor": {"timeout_s": math.nan}}, f"[sensor].timeout_s: {SECONDS} nan"),
    ({"sensor": {"timeout_s": True}}, f"[sensor].timeout_s: {SECONDS} true"),
    ({"sensor": {"timeout_s": "2"}}, f'[sensor].timeout_s: {SECONDS} "2"'),
    ({"sensor": {"touch_pin": 28}}, f"[sensor].touch_pin: {PIN} 28"),
    ({"sensor": {"touch_pin": -1}}, f"[sensor].touch_pin: {PIN} -1"),
    ({"sensor": {"touch_pin": True}}, f"[sensor].touch_pin: {PIN} true"),
    ({"sensor": {"touch_pin": "17"}}, f'[sensor].touch_pin: {PIN} "17"'),
    ({"sensor": {"touch_pin": 17.0}}, f"[sensor].touch_pin: {PIN} 17.0"),
    ({"sensor": {"power_pin": 40}}, f"[sensor].power_pin: {PIN} 40"),
    ({"sensor": {"poll_interval_s": 0}}, f"[sensor].poll_interval_s: {SECONDS} 0"),
    ({"sensor": {"health_probe_s": -60}}, f"[sensor].health_probe_s: {SECONDS} -60"),
    ({"sensor": {"buad": 9600}}, "[sensor].buad: unknown key (did you mean 'baud'?)"),
    # [punch]
    (
        {"punch": {"repeat_window_s": -1}},
        "[punch].repeat_window_s: must be a number of seconds >= 0, got -1",
    ),
    (
        {"punch": {"repeat_window_s": "60"}},
        '[punch].repeat_window_s: must be a number of seconds >= 0, got "60"',
    ),
    # [feedback]
    ({"feedback": {"green_pin": True}}, f"[feedback].green_pin: {PIN} true"),
    ({"feedback": {"red_pin": 99}}, f"[feedback].red_pin: {PIN} 99"),
    ({"feedback": {"amber_pin": "25"}}, f'[feedback].amber_pin: {PIN} "25"'),
    ({"feedback": {"buzzer_pin": 1.5}}, f"[feedback].buzzer_pin: {PIN} 1.5"),
    (
        {"feedback": {"pin_factory": ""}},
        '[feedback].pin_factory: must be a non-empty string, got ""',
    ),
    ({"feedback": {"pin_factory": 5}}, "[feedback].pin_factory: must be a non-empty string, got 5"),
    (
        {"feedback": {"red_pin": 23}},
        "[feedback].red_pin: GPIO 23 is also [feedback].green_pin; one pin cannot do two jobs "
        "(change one, or set it to false if that part is not wired)",
    ),
    (
        {"sensor": {"touch_pin": 18}},
        "[sensor].touch_pin: GPIO 18 is also [feedback].buzzer_pin; one pin cannot do two jobs "
        "(change one, or set it to false if that part is not wired)",
    ),
    # [mqtt]
    ({"mqtt": {"port": 70000}}, "[mqtt].port: must be 1-65535, got 70000"),
    ({"mqtt": {"port": 0}}, "[mqtt].port: must be 1-65535, got 0"),
    ({"mqtt": {"port": True}}, "[mqtt].port: must be 1-65535, got true"),
    ({"mqtt": {"port": "1883"}}, '[mqtt].port: must be 1-65535, got "1883"'),
    ({"mqtt": {"hots": "broker"}}, "[mqtt].hots: unknown key (did you mean 'host'?)"),
    ({"mqtt": {"zzz": 1}}, f"[mqtt].zzz: unknown key (known: {MQTT_KEYS})"),
    ({"mqtt": {"host": ""}}, '[mqtt].host: must be a non-empty string, got ""'),
    ({"mqtt": {"tls": "yes"}}, '[mqtt].tls: must be true or false, got "yes"'),
    ({"mqtt": {"tls": 1}}, "[mqtt].tls: must be true or false, got 1"),
    ({"mqtt": {"username": 7}}, "[mqtt].username: must be a non-empty string, got 7"),
    ({"mqtt": {"password": 1234}}, f"[mqtt].password: must be a non-empty string, got {HIDDEN}"),
    (
        {"mqtt": {"password": "pw", "password_file": "pw"}},
        "[mqtt].password_file: cannot be used together with password; keep one of them",
    ),
    ({"mqtt": {"keepalive_s": 0}}, "[mqtt].keepalive_s: must be whole seconds 1-65535, got 0"),
    ({"mqtt": {"keepalive_s": 1.5}}, "[mqtt].keepalive_s: must be whole seconds 1-65535, got 1.5"),
    (
        {"mqtt": {"keepalive_s": 65536}},
        "[mqtt].keepalive_s: must be whole seconds 1-65535, got 65536",
    ),
    ({"mqtt": {"batch_size": 0}}, "[mqtt].batch_size: must be 1-1000, got 0"),
    ({"mqtt": {"batch_size": 1001}}, "[mqtt].batch_size: must be 1-1000, got 1001"),
    ({"mqtt": {"batch_size": True}}, "[mqtt].batch_size: must be 1-1000, got true"),
    ({"mqtt": {"ack_timeout_s": 0}}, f"[mqtt].ack_timeout_s: {SECONDS} 0"),
    ({"mqtt": {"reconnect_min_s": 0}}, f"[mqtt].reconnect_min_s: {SECONDS} 0"),
    (
        {"mqtt": {"reconnect_max_s": 0.5}},
        "[mqtt].reconnect_max_s: must be >= reconnect_min_s (1.0), got 0.5",
    ),
    ({"mqtt": {"heartbeat_s": -5}}, f"[mqtt].heartbeat_s: {SECONDS} -5"),
    # [store], [log]
    ({"store": {"retention_days": 0}}, "[store].retention_days: must be whole days 1-36500, got 0"),
    (
        {"store": {"retention_days": 1.5}},
        "[store].retention_days: must be whole days 1-36500, got 1.5",
    ),
    (
        {"store": {"retention_days": True}},
        "[store].retention_days: must be whole days 1-36500, got true",
    ),
    (
        {"log": {"level": "VERBOSE"}},
        '[log].level: must be one of DEBUG, INFO, WARNING, ERROR, got "VERBOSE"',
    ),
    ({"log": {"level": 10}}, "[log].level: must be a non-empty string, got 10"),
    # sections
    ({"mqt": {"host": "x"}}, "[mqt]: unknown section (did you mean [mqtt]?)"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_VALUES, ids=[e for _, e in BAD_VALUES])
def test_config_rejects_bad_value_with_exact_message(
    write: Callable[[str], Path], overrides: Sections, expected: str
) -> None:
    assert load_error(write(render(overrides))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt = 5\n" + render({}), "[mqtt]: must be a table, got 5"),
        (
            'id = "pi-01"\n' + render({}),
            "id: key outside any section "
            "(known: [device], [sensor], [punch], [feedback], [mqtt], [store], [sync], [admin], "
            "[log])",
        ),
        ("[device\nid = 1\n", "not valid TOML: "),
    ],
)
def test_config_rejects_bad_layout(write: Callable[[str], Path], text: str, expected: str) -> None:
    assert load_error(write(text)).startswith(expected)


def test_config_error_is_a_value_error_naming_file_and_key(write: Callable[[str], Path]) -> None:
    path = write(render({"mqtt": {"port": 70000}}))
    with pytest.raises(ValueError, match=re.escape("[mqtt].port: must be 1-65535")) as caught:
        load(path, environ={})
    assert isinstance(caught.value, ConfigError)
    assert (caught.value.source, caught.value.key) == (str(path), "[mqtt].port")
    assert caught.value.problem == "must be 1-65535, got 70000"


def test_config_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert load_error(tmp_path / "absent.toml") == "cannot read: No such file or directory"


def test_config_minimal_file_gets_every_default(write: Callable[[str], Path]) -> None:
    config = load(write(render({})), environ={})
    assert config.device == DeviceConfig(id="pi-01", state_dir=Path("/var/lib/hadir"), site=None)
    assert config.sensor == SensorConfig(
        port="sim:r307",
        baud=57600,
        address=0xFFFFFFFF,
        password=0,
        password_file=None,
        timeout_s=2.0,
        touch_pin=None,
        power_pin=None,
        poll_interval_s=0.15,
        health_probe_s=60.0,
    )
    assert config.punch == PunchConfig(repeat_window_s=60.0)
    assert config.feedback == FeedbackConfig(
        green_pin=23, red_pin=24, amber_pin=25, buzzer_pin=18, pin_factory=None
    )
    assert config.mqtt == MqttConfig(
        host="localhost",
        port=8883,
        tls=True,
        ca_file=None,
        cert_file=None,
        key_file=None,
        username="pi-01",
        password=None,
        password_file=None,
        keepalive_s=30,
        batch_size=100,
        ack_timeout_s=10.0,
        reconnect_min_s=1.0,
        reconnect_max_s=60.0,
        heartbeat_s=30.0,
    )
    assert config.store == StoreConfig(retention_days=90)
    assert config.log == LogConfig(level="INFO")


def test_config_mqtt_port_default_follows_tls(write: Callable[[str], Path]) -> None:
    assert load(write(render({"mqtt": {"tls": False}})), environ={}).mqtt.port == 1883
    assert load(write(render({"mqtt": {"tls": False, "port": 8884}})), environ={}).mqtt.port == 8884


def test_config_accepts_edge_values(write: Callable[[str], Path]) -> None:
    config = load(
        write(
            render(
                {
                    "device": {"site": "BKD", "state_dir": "state"},
                    "sensor": {"port": "/dev/r307", "baud": 115200, "address": 0, "timeout_s": 2},
                    "punch": {"repeat_window_s": 0},
                    "feedback": {"green_pin": 0, "red_pin": 27, "amber_pin": False},
                    "mqtt": {"username": "other", "batch_size": 1000, "keepalive_s": 65535},
                    "log": {"level": "debug"},
                }
            )
        ),
        environ={},
    )
    assert config.device.state_dir.is_absolute()  # relative to the config file's directory
    assert (config.sensor.baud, config.sensor.address) == (115200, 0)
    assert type(config.sensor.timeout_s) is float
    assert config.punch.repeat_window_s == 0.0
    assert (config.feedback.green_pin, config.feedback.red_pin) == (0, 27)
    assert config.feedback.amber_pin is None
    assert (config.mqtt.username, config.mqtt.batch_size) == ("other", 1000)
    assert config.log.level == "DEBUG"
    assert load(write(render({"sensor": {"port": "sim:R503:datasheet"}})), environ={})


def test_config_is_frozen_and_slotted(write: Callable[[str], Path]) -> None:
    config = load(write(render({})), environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.mqtt.port = 1  # type: ignore[misc]
    assert not hasattr(config.mqtt, "__dict__")


# Secrets -----------------------------------------------------------------------------------------


def test_config_mqtt_password_file_is_read_and_recorded(
    write: Callable[[str], Path], secret: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    pw = secret("s3cret-mqtt\n")
    config = load(write(render({"mqtt": {"password_file": str(pw)}})), environ={})
    assert (config.mqtt.password, config.mqtt.password_file) == ("s3cret-mqtt", pw)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_config_relative_secret_path_is_relative_to_the_config(
    write: Callable[[str], Path], secret: Callable[..., Path]
) -> None:
    pw = secret("pw", name="mqtt-password")
    config = load(write(render({"mqtt": {"password_file": "mqtt-password"}})), environ={})
    assert config.mqtt.password_file == pw


@pytest.mark.parametrize(("text", "value"), [("1234\n", 1234), ("0x1234ABCD", 0x1234ABCD)])
def test_config_sensor_password_file_holds_a_number(
    write: Callable[[str], Path], secret: Callable[..., Path], text: str, value: int
) -> None:
    pw = secret(text)
    config = load(write(render({"sensor": {"password_file": str(pw)}})), environ={})
    assert (config.sensor.password, config.sensor.password_file) == (value, pw)


def test_config_secret_file_wider_than_0600_is_logged(
    write: Callable[[str], Path], secret: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    pw = secret("pw", mode=0o644)
    caplog.set_level(logging.WARNING, logger="edge.config")
    load(write(render({"mqtt": {"password_file": str(pw)}})), environ={})
    assert [r.getMessage() for r in caplog.records] == [
        f"secret file readable by others key=[mqtt].password_file path={pw} mode=0644 want=0600"
    ]
    assert "pw" not in caplog.records[0].getMessage().replace(str(pw), "")


@pytest.mark.parametrize("section", ["sensor", "mqtt"])
def test_config_unreadable_password_file_is_an_error(
    write: Callable[[str], Path], tmp_path: Path, section: str
) -> None:
    missing = tmp_path / "absent"
    assert load_error(write(render({section: {"password_file": str(missing)}}))) == (
        f"[{section}].password_file: cannot read {missing}: No such file or directory"
    )
    assert load_error(write(render({section: {"password_file": str(tmp_path)}}))) == (
        f"[{section}].password_file: cannot read {tmp_path}: Is a directory"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode 000 file anyway")
def test_config_password_file_without_permission_is_an_error(
    write: Callable[[str], Path], secret: Callable[..., Path]
) -> None:
    pw = secret("pw", mode=0o000)
    assert load_error(write(render({"mqtt": {"password_file": str(pw)}}))) == (
        f"[mqtt].password_file: cannot read {pw}: Permission denied"
    )


def test_config_bad_password_file_contents_are_errors(
    write: Callable[[str], Path], secret: Callable[..., Path]
) -> None:
    empty = secret("\n", name="empty")
    assert load_error(write(render({"mqtt": {"password_file": str(empty)}}))) == (
        f"[mqtt].password_file: {empty} is empty"
    )
    binary = secret(b"\xff\xfe", name="binary")
    assert load_error(write(render({"mqtt": {"password_file": str(binary)}}))).startswith(
        f"[mqtt].password_file: cannot read {binary} as UTF-8 text: "
    )
    words = secret("hunter2", name="words")
    assert load_error(write(render({"sensor": {"password_file": str(words)}}))) == (
        f"[sensor].password_file: {words} must hold one number 0-0xFFFFFFFF (0x.. for hex)"
    )
    big = secret("0x100000000", name="big")
    assert "must hold one number" in load_error(
        write(render({"sensor": {"password_file": str(big)}}))
    )


def test_config_tls_files_are_checked(
    write: Callable[[str], Path], secret: Callable[..., Path], tmp_path: Path
) -> None:
    ca, cert, key = secret("ca", "ca.crt"), secret("crt", "pi.crt"), secret("key", "pi.key")
    assert load_error(write(render({"mqtt": {"tls": False, "ca_file": str(ca)}}))) == (
        "[mqtt].ca_file: is only used with tls = true; remove it or set tls = true"
    )
    assert load_error(write(render({"mqtt": {"cert_file": str(cert)}}))) == (
        "[mqtt].key_file: missing (required when cert_file is set)"
    )
    assert load_error(write(render({"mqtt": {"key_file": str(key)}}))) == (
        "[mqtt].cert_file: missing (required when key_file is set)"
    )
    assert load_error(write(render({"mqtt": {"ca_file": str(tmp_path / "no.crt")}}))) == (
        f"[mqtt].ca_file: cannot read {tmp_path / 'no.crt'}: No such file or directory"
    )
    files: dict[str, object] = {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key)}
    mqtt = load(write(render({"mqtt": files})), environ={}).mqtt
    assert (mqtt.ca_file, mqtt.cert_file, mqtt.key_file) == (ca, cert, key)


def test_config_world_readable_key_file_is_logged(
    write: Callable[[str], Path], secret: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = secret("crt", "pi.crt", 0o644), secret("key", "pi.key", 0o640)
    caplog.set_level(logging.WARNING, logger="edge.config")
    load(write(render({"mqtt": {"cert_file": str(cert), "key_file": str(key)}})), environ={})
    assert [r.getMessage() for r in caplog.records] == [
        f"secret file readable by others key=[mqtt].key_file path={key} mode=0640 want=0600"
    ]


def test_config_env_overrides_mqtt_password(write: Callable[[str], Path], tmp_path: Path) -> None:
    # The file's password_file is not even read: the environment wins outright.
    path = write(render({"mqtt": {"password_file": str(tmp_path / "absent")}}))
    mqtt = load(path, environ={MQTT_PASSWORD_ENV: "from-env"}).mqtt
    assert (mqtt.password, mqtt.password_file) == ("from-env", None)
    inline = write(render({"mqtt": {"password": "inline"}}))
    assert load(inline, environ={MQTT_PASSWORD_ENV: FROM_ENV}).mqtt.password == FROM_ENV
    assert load(inline, environ={}).mqtt.password == INLINE


def test_config_env_is_os_environ_by_default(
    write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MQTT_PASSWORD_ENV, FROM_OS_ENV)
    assert load(write(render({}))).mqtt.password == FROM_OS_ENV


def test_config_empty_env_password_is_an_error(write: Callable[[str], Path]) -> None:
    assert load_error(write(render({})), environ={MQTT_PASSWORD_ENV: ""}) == (
        f"${MQTT_PASSWORD_ENV}: is set but empty; unset it"
    )


def test_config_risky_secrets_are_logged(
    write: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = write(render({"mqtt": {"password": "inline", "tls": False}}))
    path.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="edge.config")
    load(path, environ={})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "mqtt tls=false: the password crosses the network in clear text",
        f"config holds a password and is readable by others path={path} mode=0644 want=0600 "
        "(or move the password to a password_file)",
    ]
    assert not any("inline" in m for m in messages)


def test_config_redact_hides_every_secret(
    write: Callable[[str], Path], secret: Callable[..., Path]
) -> None:
    pw = secret("0x5EC12E7")
    path = write(render({"sensor": {"password_file": str(pw)}, "mqtt": {"password": "m0sq"}}))
    config = load(path, environ={})
    shown = redact(config)
    assert REDACTED == "***"
    assert shown["sensor"]["password"] == REDACTED
    assert shown["mqtt"]["password"] == REDACTED
    assert shown["sensor"]["password_file"] == str(pw)  # where it is, not what it is
    assert shown["mqtt"]["port"] == 8883
    assert set(shown) == set(SCHEMAS)
    text = json.dumps(shown)  # plain data: fit for one log line
    for leak in ("m0sq", str(0x5EC12E7), "5EC12E7"):
        assert leak not in text
        assert leak not in repr(config)
    assert redact(load(write(render({})), environ={}))["mqtt"]["password"] is None


# The example is the documentation -----------------------------------------------------------------


def documented_keys() -> dict[str, set[str]]:
    """Each key the example shows, set or commented out, per section."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line.strip()):
            section = header[1]
            keys[section] = set()
        elif key := re.match(r"#? ?([a-z_]+) = ", line):
            assert section, f"key outside a section: {line}"
            keys[section].add(key[1])
    return keys


def test_config_example_documents_every_field_and_nothing_else() -> None:
    assert list(SCHEMAS) == [
        "device",
        "sensor",
        "punch",
        "feedback",
        "mqtt",
        "store",
        "sync",
        "admin",
        "log",
    ]
    documented = documented_keys()
    assert list(documented) == list(SCHEMAS)
    for name, schema in SCHEMAS.items():
        assert documented[name] == {f.name for f in dataclasses.fields(schema)}, name


def test_config_example_loads_and_states_the_true_defaults(write: Callable[[str], Path]) -> None:
    example = load(EXAMPLE, environ={})
    minimal = load(
        write(
            render({"device": {"id": example.device.id}, "sensor": {"port": example.sensor.port}})
        ),
        environ={},
    )
    assert example == minimal

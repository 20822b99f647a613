"""hadir-central's TOML configuration: database, broker, API; errors name file and key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the file, the key and the rule."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CentralConfig:
    """Everything ``hadir-central run`` needs."""

    database_url: str
    mqtt_host: str = "localhost"
    mqtt_port: int = 1883
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    client_id: str = "hadir-collector-1"
    share_group: str = "collectors"
    api_host: str = "127.0.0.1"
    api_port: int | None = None  # None: no HTTP API in this process (no [api] section)
    admin_token: str | None = None
    log_level: str = "INFO"
    fallback_after_min: int = 10  # terminals down this long: mobile check-in opens by itself
    ping_retention_days: int = 30  # raw coordinates of location pings are then blanked
    dashboard_secret: bytes | None = None  # signs dashboard sessions; None: no dashboard
    dashboard_cookie_secure: bool = True  # HTTPS-only cookies (behind the TLS proxy)
    # The central's X25519 template key (0600); None: central.templates.keys.DEFAULT_KEY_FILE.
    template_key_file: str | None = None
    template_resend_s: int = 60  # an unanswered install/delete goes out again after this


_KEYS: dict[str, dict[str, type]] = {
    "database": {"url": str},
    "mqtt": {
        "host": str,
        "port": int,
        "tls": bool,
        "ca_file": str,
        "cert_file": str,
        "key_file": str,
        "username": str,
        "password": str,
        "password_file": str,
        "client_id": str,
        "share_group": str,
    },
    "api": {"host": str, "port": int, "admin_token_file": str},
    "log": {"level": str},
    "maintenance": {"fallback_after_min": int, "ping_retention_days": int},
    "dashboard": {"secret_file": str, "cookie_secure": bool},
    "templates": {"key_file": str, "resend_after_s": int},
}


def _secret(source: Path, key: str, path: str) -> str:
    target = Path(path) if Path(path).is_absolute() else source.parent / path
    try:
        return target.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{source}: {key}: cannot read {target}: {exc.strerror}") from exc


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> CentralConfig:
    """Read and check ``path``; ``HADIR_DATABASE_URL`` and ``HADIR_MQTT_PASSWORD`` override."""
    env = os.environ if environ is None else environ
    source = Path(path)
    try:
        raw = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    values: dict[str, dict[str, object]] = {}
    for section, table in raw.items():
        if section not in _KEYS or not isinstance(table, dict):
            raise ConfigError(f"{source}: [{section}]: unknown section; known: {', '.join(_KEYS)}")
        for key, value in table.items():
            kind = _KEYS[section].get(key)
            if kind is None:
                raise ConfigError(f"{source}: [{section}].{key}: unknown key")
            if type(value) is not kind:
                raise ConfigError(
                    f"{source}: [{section}].{key}: must be {kind.__name__}, got {value!r}"
                )
        values[section] = dict(table)
    db = values.get("database", {})
    mqtt = values.get("mqtt", {})
    api = values.get("api", {})
    url = env.get("HADIR_DATABASE_URL") or db.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(
            f"{source}: [database].url: required (sqlite:///path or postgresql+psycopg://...)"
        )
    for section, key in (("mqtt", "port"), ("api", "port")):
        port = values.get(section, {}).get(key)
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise ConfigError(f"{source}: [{section}].{key}: must be 1-65535, got {port}")
    password = env.get("HADIR_MQTT_PASSWORD") or mqtt.get("password")
    if password is None and isinstance(mqtt.get("password_file"), str):
        password = _secret(source, "[mqtt].password_file", str(mqtt["password_file"]))
    token = None
    if isinstance(api.get("admin_token_file"), str):
        token = _secret(source, "[api].admin_token_file", str(api["admin_token_file"]))
    dash = values.get("dashboard", {})
    secret = None
    if isinstance(dash.get("secret_file"), str):
        secret = _secret(source, "[dashboard].secret_file", str(dash["secret_file"])).encode()
        if len(secret) < 32:
            raise ConfigError(
                f"{source}: [dashboard].secret_file: needs at least 32 random characters, "
                f"got {len(secret)} (python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
    maintenance = values.get("maintenance", {})
    for key in ("fallback_after_min", "ping_retention_days"):
        value = maintenance.get(key)
        if isinstance(value, int) and value < 1:
            raise ConfigError(f"{source}: [maintenance].{key}: must be >= 1, got {value}")
    level = str(values.get("log", {}).get("level", "INFO"))
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"{source}: [log].level: must be DEBUG, INFO, WARNING or ERROR, got {level!r}"
        )
    key_file, resend = _templates(source, values.get("templates", {}))
    tls = bool(mqtt.get("tls", False))
    return CentralConfig(
        database_url=url,
        mqtt_host=str(mqtt.get("host", "localhost")),
        mqtt_port=int(mqtt.get("port", 8883 if tls else 1883)),  # type: ignore[call-overload]
        mqtt_tls=tls,
        mqtt_ca_file=_opt(mqtt.get("ca_file")),
        mqtt_cert_file=_opt(mqtt.get("cert_file")),
        mqtt_key_file=_opt(mqtt.get("key_file")),
        mqtt_username=_opt(mqtt.get("username")),
        mqtt_password=None if password is None else str(password),
        client_id=str(mqtt.get("client_id", "hadir-collector-1")),
        share_group=str(mqtt.get("share_group", "collectors")),
        api_host=str(api.get("host", "127.0.0.1")),
        api_port=int(api.get("port", 8080)) if "api" in values else None,  # type: ignore[call-overload]
        admin_token=token,
        log_level=level,
        fallback_after_min=int(maintenance.get("fallback_after_min", 10)),  # type: ignore[call-overload]
        ping_retention_days=int(maintenance.get("ping_retention_days", 30)),  # type: ignore[call-overload]
        dashboard_secret=secret,
        dashboard_cookie_secure=bool(dash.get("cookie_secure", True)),
        template_key_file=key_file,
        template_resend_s=resend,
    )


def _templates(source: Path, table: Mapping[str, object]) -> tuple[str | None, int]:
    """``[templates]``: the key file (relative to the config's folder) and the resend delay."""
    resend = table.get("resend_after_s", 60)
    if not isinstance(resend, int) or resend < 1:
        raise ConfigError(f"{source}: [templates].resend_after_s: must be >= 1, got {resend!r}")
    key_file = table.get("key_file")
    if not isinstance(key_file, str):
        return None, resend
    return str(source.parent / key_file), resend


def _opt(value: object) -> str | None:
    return None if value is None else str(value)

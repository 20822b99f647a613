"""hadir-central: the collector, the database, terminals and rosters from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from central.attendance.recap_cli import add_recap_commands, recap_command
from central.collector import BrokerSettings, Collector
from central.config import CentralConfig, ConfigError, load
from central.db import make_engine, upgrade
from central.devices import DeviceExists, add_device
from central.ingest import missing_seqs
from central.schema import dead_letter, device
from central.templates import keys as template_keys
from central.templates.ops import add_template_commands
from wire.sealing import SealError, public_key_text

PROG = "hadir-central"
log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__)
    p.add_argument("--config", help="central.toml (database, broker, API)")
    p.add_argument("--db", help="database URL; overrides the config's [database].url")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    sub.add_parser(
        "run",
        help="run the collector (and the HTTP API when configured)",
        epilog="Example: hadir-central --config /etc/hadir/central.toml run",
    )
    db = sub.add_parser(
        "db",
        help="database maintenance",
        epilog="Example: hadir-central --db sqlite:///c.db db upgrade",
    )
    db.add_argument("action", choices=["upgrade"])
    dev = sub.add_parser(
        "device",
        help="register and list terminals",
        epilog="Example: hadir-central --config central.toml device add kupang-bkd-01 --site bkd",
    )
    dev.add_argument("action", choices=["add", "list", "gaps"])
    dev.add_argument("device_id", nargs="?")
    dev.add_argument("--site", help="site id the terminal stands at")
    dev.add_argument("--description", default="")
    unit = sub.add_parser(
        "unit",
        help="add a unit (OPD) with its channel policy",
        epilog="Example: hadir-central --config central.toml unit add BKPPD 'BKPPD Kota Kupang'",
    )
    unit.add_argument("action", choices=["add"])
    unit.add_argument("code")
    unit.add_argument("name")
    unit.add_argument("--channel", choices=["fingerprint", "mobile", "either"], default="either")
    site = sub.add_parser(
        "site",
        help="add an office site with its geofence",
        epilog="Example: hadir-central --config central.toml site add BKPPD 'Kantor BKPPD' "
        "-10.1632 123.6017 --radius 100",
    )
    site.add_argument("action", choices=["add"])
    site.add_argument("unit_code")
    site.add_argument("name")
    site.add_argument("lat", type=float)
    site.add_argument("lon", type=float)
    site.add_argument("--radius", type=int, default=100, help="geofence radius in metres")
    site.add_argument("--id", help="site code (default: UNIT-n)")
    user = sub.add_parser(
        "user",
        help="dashboard users (roles: admin, unit_operator, viewer)",
        epilog="Example: hadir-central --config central.toml user add siti --role unit_operator "
        "--unit BKPPD  (the password is read from HADIR_USER_PASSWORD or asked for)",
    )
    user.add_argument("action", choices=["add"])
    user.add_argument("username")
    user.add_argument("--role", choices=["admin", "unit_operator", "viewer"], required=True)
    user.add_argument("--unit", help="unit code (unit operators, optional for viewers)")
    add_recap_commands(sub)
    pki = sub.add_parser(
        "pki",
        help="make the broker's CA and TLS server certificate",
        epilog="Example: hadir-central pki /etc/mosquitto/certs broker.kupangkota.go.id 10.1.2.3",
    )
    pki.add_argument("folder")
    pki.add_argument("hostnames", nargs="+", help="the broker's DNS names and IP addresses")
    imp = sub.add_parser(
        "import",
        help="import a roster (CSV or XLSX) from the personnel office",
        epilog="Example: hadir-central --config central.toml import pegawai-2026.xlsx",
    )
    imp.add_argument("file")
    imp.add_argument(
        "--partial", action="store_true", help="import the valid rows even if some are bad"
    )
    add_template_commands(sub)
    dl = sub.add_parser(
        "dead-letters",
        help="refused messages and why",
        epilog="Example: hadir-central --config central.toml dead-letters",
    )
    dl.add_argument("--limit", type=int, default=20)
    return p


def _config(args: argparse.Namespace) -> CentralConfig:
    if args.config:
        cfg = load(args.config)
        if args.db:
            return CentralConfig(
                **{**{f: getattr(cfg, f) for f in cfg.__slots__}, "database_url": args.db}
            )
        return cfg
    if args.db:
        return CentralConfig(database_url=args.db)
    raise ConfigError("give --config FILE or --db URL")


def _run(cfg: CentralConfig) -> int:
    logging.basicConfig(
        stream=sys.stdout, level=cfg.log_level, format="%(levelname)s %(name)s %(message)s"
    )
    upgrade(cfg.database_url)
    # Created on first start when absent (and its public key logged); never logged itself.
    key_file = template_keys.key_path(cfg.template_key_file)
    central_key = None
    try:
        central_key, _created = template_keys.create_or_load(key_file)
        log.info("central template key public_key=%s", public_key_text(central_key))
    except (OSError, SealError) as exc:
        # Punches must keep flowing: without the key only template sync stops (loudly).
        log.error(
            "template sync disabled: central key unusable path=%s error=%r", key_file, str(exc)
        )
    engine = make_engine(cfg.database_url)
    collector = Collector(
        engine,
        BrokerSettings(
            host=cfg.mqtt_host,
            port=cfg.mqtt_port,
            client_id=cfg.client_id,
            share_group=cfg.share_group,
            username=cfg.mqtt_username,
            password=cfg.mqtt_password,
            tls=cfg.mqtt_tls,
            ca_file=cfg.mqtt_ca_file,
            cert_file=cfg.mqtt_cert_file,
            key_file=cfg.mqtt_key_file,
        ),
        central_key=central_key,
        resend_after_s=cfg.template_resend_s,
    )
    collector.start()
    log.info("collector running database=%s", engine.url.render_as_string(hide_password=True))
    threading.Thread(target=_maintain, args=(cfg, engine), name="maintenance", daemon=True).start()
    try:
        if cfg.api_port is not None:
            # Returns on SIGTERM/SIGINT, which uvicorn handles.
            _serve_api(cfg, engine, cfg.api_port)
        else:
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    finally:
        collector.stop()
        engine.dispose()
    return 0


def _maintain(cfg: CentralConfig, engine: Engine) -> None:
    """Every minute: the automatic mobile fallback; every day: blank old ping coordinates."""
    from central.api.checkins import purge_coordinates  # noqa: PLC0415
    from central.fallback import review_sites  # noqa: PLC0415

    last_purge: datetime | None = None
    while True:
        now = datetime.now(UTC)
        try:
            with engine.begin() as conn:
                review_sites(conn, now, timedelta(minutes=cfg.fallback_after_min))
                if last_purge is None or now - last_purge > timedelta(days=1):
                    blanked = purge_coordinates(conn, now - timedelta(days=cfg.ping_retention_days))
                    last_purge = now
                    log.info("ping coordinates purged count=%d", blanked)
        except Exception:
            # Maintenance must not take the collector down; it tries again next minute.
            log.exception("maintenance failed")
        threading.Event().wait(60)


def _serve_api(cfg: CentralConfig, engine: Engine, port: int) -> None:
    import uvicorn  # noqa: PLC0415 - only the serving process needs it

    from central.api.app import ApiSettings, create_app  # noqa: PLC0415
    from central.dashboard import DashboardSettings  # noqa: PLC0415

    dashboard = None
    if cfg.dashboard_secret is not None:
        dashboard = DashboardSettings(
            secret=cfg.dashboard_secret, cookie_secure=cfg.dashboard_cookie_secure
        )
    app = create_app(engine, ApiSettings(admin_token=cfg.admin_token, dashboard=dashboard))
    log.info("api listening host=%s port=%d", cfg.api_host, port)
    uvicorn.run(app, host=cfg.api_host, port=port, log_level="warning")


def _device(args: argparse.Namespace, engine: Engine) -> int:
    if args.action == "add":
        if not args.device_id:
            raise ConfigError("device add: give the device id, e.g. kupang-bkd-01")
        with engine.begin() as conn:
            creds = add_device(
                conn,
                args.device_id,
                datetime.now(UTC),
                site_id=args.site,
                description=args.description,
            )
        print(f"device {creds.device} registered.")
        print(
            f'\n# edge.toml of the terminal:\n[device]\nid = "{creds.device}"\n'
            f'[mqtt]\nusername = "{creds.device}"'
        )
        print(f'password = "{creds.password}"   # shown once; better in password_file (0600)')
        sync_line = template_keys.sync_config_line(args.central_key_file)
        print(
            f"[sync]\n{sync_line}"
            if sync_line is not None
            else "# [sync] central_key: run 'hadir-central keys init' first"
        )
        print(f"\n# append to the broker's password_file:\n{creds.passwd_line}")
        print(f"\n# append to the broker's acl_file:\n{creds.acl}")
        return 0
    if args.action == "gaps":
        with engine.connect() as conn:
            print(json.dumps(missing_seqs(conn, args.device_id)))
        return 0
    with engine.connect() as conn:
        rows = conn.execute(select(device).order_by(device.c.id)).mappings().all()
    for r in rows:
        line = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
        print(
            json.dumps(line)
            if args.json
            else f"{r['id']:24s} online={r['online']} acked_upto={r['acked_upto']} "
            f"outbox={r['outbox_depth']} sensor={r['sensor']} "
            f"complete_upto={r['complete_upto']}"
        )
    return 0


def _registry(args: argparse.Namespace, engine: Engine) -> int:
    from central import registry  # noqa: PLC0415

    with engine.begin() as conn:
        if args.cmd == "unit":
            sched = registry.ensure_default_schedules(conn)
            u = registry.add_unit(
                conn,
                args.code,
                args.name,
                channel=registry.Channel(args.channel),
                schedule_id=sched.id,
            )
            print(f"unit {u.code} added (channel {args.channel}, schedule {sched.name})")
            return 0
        found = registry.find_unit(conn, args.unit_code)
        if found is None:
            raise ConfigError(f"site add: no unit {args.unit_code!r}; add it first")
        st = registry.add_site(
            conn,
            unit_id=found.id,
            name=args.name,
            lat=args.lat,
            lon=args.lon,
            radius_m=args.radius,
            site_id=args.id,
        )
        print(f"site {st.id} added: {st.name} ({st.lat}, {st.lon}) r={st.radius_m} m")
    return 0


def _import(args: argparse.Namespace, engine: Engine) -> int:
    from central.roster import import_roster  # noqa: PLC0415

    report = import_roster(engine, args.file, partial=args.partial)
    state = "imported" if report.committed else "NOT imported (nothing was changed)"
    print(
        f"{report.path}: {state}; rows {report.rows}, new {report.created}, "
        f"updated {report.updated}, unchanged {report.unchanged}"
    )
    for issue in report.errors:
        print(f"  error: {issue}")
    for issue in report.warnings:
        print(f"  warning: {issue}")
    return 0 if report.committed and report.ok else 1


def _dead_letters(args: argparse.Namespace, engine: Engine) -> int:
    with engine.connect() as conn:
        letters = conn.execute(
            select(
                dead_letter.c.id,
                dead_letter.c.received_at,
                dead_letter.c.topic,
                dead_letter.c.reason,
            )
            .order_by(dead_letter.c.id.desc())
            .limit(args.limit)
        ).all()
    for letter in letters:
        print(f"{letter.id:6d} {letter.received_at.isoformat()} {letter.topic}  {letter.reason}")
    return 0


def _user(args: argparse.Namespace, engine: Engine) -> int:
    import getpass  # noqa: PLC0415

    from central import registry  # noqa: PLC0415
    from central.dashboard import Role, create_user  # noqa: PLC0415

    password = os.environ.get("HADIR_USER_PASSWORD") or getpass.getpass("password: ")
    with engine.begin() as conn:
        unit_id = None
        if args.unit:
            found = registry.find_unit(conn, args.unit)
            if found is None:
                raise ConfigError(f"user add: no unit {args.unit!r}")
            unit_id = found.id
        create_user(conn, args.username, password, Role(args.role), unit_id)
    print(f"user {args.username} added ({args.role})")
    return 0


def _template(args: argparse.Namespace, engine: Engine) -> int:
    from central.templates.ops import template_command  # noqa: PLC0415

    return template_command(args, engine)


def _keys(args: argparse.Namespace) -> int:
    path: Path = args.central_key_file
    if args.action == "init":
        key, created = template_keys.create_or_load(path)
        print(f"{'created' if created else 'already there'}: {path} (0600; keep it, back it up)")
    else:
        key = template_keys.load(path)
    print("# the [sync] section of every terminal's edge.toml:")
    print(f'[sync]\ncentral_key = "{public_key_text(key)}"')
    return 0


_COMMANDS = {
    "device": _device,
    "unit": _registry,
    "site": _registry,
    "import": _import,
    "dead-letters": _dead_letters,
    "user": _user,
    "recap": recap_command,
    "template": _template,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadir-central``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        no_db = args.cmd == "pki" or (args.cmd == "keys" and not (args.config or args.db))
        cfg = CentralConfig(database_url="") if no_db else _config(args)
        args.central_key_file = template_keys.key_path(
            getattr(args, "key_file", None) or cfg.template_key_file
        )
        if args.cmd == "keys":
            return _keys(args)
        if args.cmd == "run":
            return _run(cfg)
        if args.cmd == "pki":
            from central.pki import make_ca_and_server  # noqa: PLC0415

            issued = make_ca_and_server(Path(args.folder), list(args.hostnames))
            print(f"CA certificate (give to every terminal): {issued.ca_cert}")
            print(f"CA key (keep offline, 0600): {issued.ca_key}")
            print(f"broker certificate and key: {issued.server_cert} {issued.server_key}")
            return 0
        if args.cmd == "db":
            upgrade(cfg.database_url)
            print("database is at the latest revision")
            return 0
        engine = make_engine(cfg.database_url)
        try:
            return _COMMANDS[args.cmd](args, engine)
        finally:
            engine.dispose()
    except (ConfigError, DeviceExists, ValueError, OSError, EOFError) as exc:
        if os.environ.get("DEBUG"):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

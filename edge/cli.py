"""hadir-edge: the terminal's command line: the daemon, and the technician's commands.

The technician's commands (enroll, verify, delete, list, info, sync) ask the running daemon over
its admin socket; they never open the serial port themselves.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from edge.admin import cli as admin_cli
from edge.config import ConfigError, load
from edge.store import StoreError

PROG = "hadir-edge"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the terminal daemon (systemd starts this)",
        epilog="Example: hadir-edge run --config /etc/hadir/edge.toml",
    )
    run.add_argument("--config", required=True, help="the TOML configuration file")
    check = sub.add_parser(
        "check-config",
        help="validate a configuration file and exit",
        epilog="Example: hadir-edge check-config --config /etc/hadir/edge.toml",
    )
    check.add_argument("--config", required=True)
    admin_cli.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadir-edge``; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.cmd in admin_cli.COMMANDS:
        # No config needed: the daemon that owns the socket already has it.
        return admin_cli.run(args)
    try:
        config = load(args.config)
        if args.cmd == "check-config":
            print(f"{args.config}: ok (device {config.device.id})")
            return 0
        from edge.daemon import DaemonError, start  # noqa: PLC0415 - keeps check-config light

        try:
            return start(config)
        except DaemonError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
    except (ConfigError, StoreError, OSError) as exc:
        if os.environ.get("DEBUG"):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

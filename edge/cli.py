"""hadir-edge: the terminal's command line (the daemon, and later the technician's commands)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadir-edge``; returns the exit code."""
    args = _parser().parse_args(argv)
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

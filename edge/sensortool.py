"""hadir-sensor: a technician's bench tool for one module on a port, without the daemon.

For wiring checks and the simulator demo. On a running terminal the daemon owns the port; stop
it first (``systemctl stop hadir-edge``), since two programs on one UART corrupt each other's
replies (r307-protocol.md §6.5).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence

from edge.prompts import say
from edge.sensor import (
    DuplicateFinger,
    EnrollMismatch,
    PoorImage,
    R307Sensor,
    SensorError,
    Slot,
)
from edge.sensor.enrollment import enroll

PROG = "hadir-sensor"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--baud", type=int, default=57600)
    p.add_argument("--password", type=lambda v: int(v, 0), default=0, help="module password")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    info = sub.add_parser(
        "info", help="module parameters and health", epilog="Example: hadir-sensor info /dev/r307"
    )
    info.add_argument("port")
    ident = sub.add_parser(
        "identify",
        help="wait for fingers and identify them",
        epilog="Example: hadir-sensor identify /dev/r307 --count 1",
    )
    ident.add_argument("port")
    ident.add_argument(
        "--count", type=int, default=0, help="stop after N identifications (0: forever)"
    )
    ident.add_argument(
        "--timeout", type=float, default=0, help="give up after this many seconds (0: never)"
    )
    enr = sub.add_parser(
        "enroll",
        help="enroll a finger into a slot",
        epilog="Example: hadir-sensor enroll /dev/r307 7",
    )
    enr.add_argument("port")
    enr.add_argument("slot", type=int)
    lst = sub.add_parser(
        "list", help="occupied slots", epilog="Example: hadir-sensor list /dev/r307"
    )
    lst.add_argument("port")
    dele = sub.add_parser(
        "delete", help="delete a slot", epilog="Example: hadir-sensor delete /dev/r307 7"
    )
    dele.add_argument("port")
    dele.add_argument("slot", type=int)
    return p


def _identify(sensor: R307Sensor, count: int, timeout_s: float) -> int:
    print(say("waiting"), flush=True)
    seen = 0
    deadline = time.monotonic() + timeout_s if timeout_s else None
    while count == 0 or seen < count:
        if deadline is not None and time.monotonic() > deadline:
            return 1
        try:
            if not sensor.read_image():
                time.sleep(0.15)
                continue
            sensor.extract()
            match = sensor.search()
        except PoorImage as exc:
            print(f"{say('retry')} [{exc.reason}]", flush=True)
            continue
        except SensorError as exc:
            print(say("offline", detail=exc), flush=True)
            time.sleep(1)
            continue
        seen += 1
        if match is None:
            print(say("unknown"), flush=True)
        else:
            print(say("found", slot=match.slot, score=match.score), flush=True)
        while _still_touching(sensor):
            time.sleep(0.15)
    return 0


def _still_touching(sensor: R307Sensor) -> bool:
    try:
        return sensor.read_image()
    except SensorError:
        return False


def run(args: argparse.Namespace) -> int:
    """Run one subcommand against the module on ``args.port``."""
    if not os.path.exists(args.port):
        print(
            f"{PROG}: error: {args.port} does not exist (is the module plugged in?)",
            file=sys.stderr,
        )
        return 1
    sensor = R307Sensor(args.port, baud=args.baud, password=args.password)
    try:
        if args.cmd == "info":
            info = sensor.info()
            print(json.dumps({**_asdict(info), "health": sensor.health().state.value}))
        elif args.cmd == "identify":
            return _identify(sensor, args.count, args.timeout)
        elif args.cmd == "enroll":
            try:
                score = enroll(
                    sensor, Slot(args.slot), lambda step: print(say(step.value), flush=True)
                )
            except DuplicateFinger as exc:
                print(say("duplicate", slot=exc.slot), flush=True)
                return 1
            except EnrollMismatch:
                print(say("mismatch"), flush=True)
                return 1
            print(f"slot {args.slot} verify_score={score}")
        elif args.cmd == "list":
            print(" ".join(str(s) for s in sorted(sensor.used_slots())) or "(empty)")
        elif args.cmd == "delete":
            sensor.delete(Slot(args.slot))
    except SensorError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        sensor.close()
    return 0


def _asdict(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in getattr(obj, "__slots__", ())}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadir-sensor``; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    return run(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

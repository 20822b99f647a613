"""hadir-sim: run a simulated R307 at a terminal and drive it from another.

Terminal 1 runs the module; terminal 2 plays the world::

    hadir-sim run --model r307 --timing datasheet     # prints the device path, keeps running
    hadir-sim place alice                              # a finger on the glass
    hadir-sim lift
    hadir-sim fault bad-checksum --count 2             # spoil the next two replies
    hadir-sim list                                     # the stored templates

Both find each other through one folder (``--dir``, default ``$HADIR_SIM_DIR`` or
``/tmp/hadir-sim-$UID``): ``ttyR307`` is the device path, ``control.sock`` the control socket and
``flash.bin`` the module's flash, so the library survives a restart of the simulator.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

from edge.sensor.sim.control import ControlServer, request
from edge.sensor.sim.faults import Fault
from edge.sensor.sim.fingers import Quality
from edge.sensor.sim.profiles import MODELS, TIMINGS
from edge.sensor.sim.simulator import SimulatedR307

PROG = "hadir-sim"


def default_dir() -> str:
    """Where the device path, control socket and flash file live by default."""
    return os.environ.get("HADIR_SIM_DIR") or f"/tmp/hadir-sim-{os.getuid()}"  # noqa: S108


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("--dir", default=default_dir(), help="folder shared by run and the controls")
    p.add_argument("--json", action="store_true", help="print replies as JSON")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start a simulated module and keep it running",
        epilog="Example: hadir-sim run --model r307 --timing datasheet",
    )
    run.add_argument("--model", default="r307", choices=sorted(MODELS))
    run.add_argument("--timing", default="datasheet", choices=sorted(TIMINGS))
    run.add_argument("--flash", help="flash file (default: DIR/flash-MODEL.bin)")
    run.add_argument("--seed", type=int, help="seed for capture noise")
    run.add_argument("--poor-rate", type=float, default=0.0, help="share of poor captures")

    place = sub.add_parser(
        "place", help="put a finger on the glass", epilog="Example: hadir-sim place alice"
    )
    place.add_argument("finger", help="any label; the same label is the same finger")
    place.add_argument("--quality", default="good", choices=[q.value for q in Quality])
    press = sub.add_parser(
        "press",
        help="place a finger, hold it, lift it",
        epilog="Example: hadir-sim press alice --hold 2",
    )
    press.add_argument("finger")
    press.add_argument("--hold", type=float, default=1.5, help="seconds on the glass")
    press.add_argument("--quality", default="good", choices=[q.value for q in Quality])
    sub.add_parser("lift", help="take the finger off the glass", epilog="Example: hadir-sim lift")
    sub.add_parser("list", help="list the stored templates", epilog="Example: hadir-sim list")
    sub.add_parser("status", help="show the module's state", epilog="Example: hadir-sim status")
    fault = sub.add_parser(
        "fault", help="inject a fault", epilog="Example: hadir-sim fault stray-byte"
    )
    fault.add_argument("fault", choices=[f.value for f in Fault])
    fault.add_argument("--count", type=int, default=1, help="replies spoiled (one-shot faults)")
    sub.add_parser("clear", help="remove injected faults", epilog="Example: hadir-sim clear")
    rate = sub.add_parser(
        "poor-rate", help="share of poor captures", epilog="Example: hadir-sim poor-rate 0.1"
    )
    rate.add_argument("rate", type=float)
    for name, text in (
        ("power-cycle", "cut and restore the module's power (clears a hang)"),
        ("power-off", "cut the module's power"),
        ("power-on", "restore the module's power"),
        ("unplug", "pull the cable: the device path disappears"),
        ("replug", "plug the cable back in"),
    ):
        sub.add_parser(name, help=text, epilog=f"Example: hadir-sim {name}")
    return p


def _run(args: argparse.Namespace) -> int:
    os.makedirs(args.dir, mode=0o750, exist_ok=True)
    port = os.path.join(args.dir, "ttyR307")
    flash = args.flash or os.path.join(args.dir, f"flash-{args.model}.bin")
    sim = SimulatedR307(args.model, args.timing, flash_path=flash, port_path=port, seed=args.seed)
    sim.set_poor_rate(args.poor_rate)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with sim:
        server = ControlServer(sim, os.path.join(args.dir, "control.sock")).start()
        used = len(sim.model.library())
        print(f"device: {sim.port}", flush=True)
        print(f"control: {server.path}", flush=True)
        print(
            f"module: {args.model} ({sim.model.profile.capacity} slots, {used} used), "
            f"timing {args.timing}, flash {flash}",
            flush=True,
        )
        print(f"ready; in another terminal: {PROG} place alice   (Ctrl-C stops)", flush=True)
        while not stop.wait(0.5):
            pass
        server.close()
    return 0


def _print(reply: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply))
        return
    if "slots" in reply:
        slots = reply["slots"]
        assert isinstance(slots, list)
        print(f"{len(slots)} template(s)")
        for row in slots:
            print(f"  slot {row['slot']:4d}  {row['finger'] or '(unknown finger)'}")
        return
    shown = {k: v for k, v in reply.items() if k != "ok"}
    print(" ".join(f"{k}={v}" for k, v in shown.items()) or "ok")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadir-sim``; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.cmd == "run":
        return _run(args)
    sock = os.path.join(args.dir, "control.sock")
    params: dict[str, object] = {}
    cmd = args.cmd
    if cmd in ("place", "press"):
        params = {"finger": args.finger, "quality": args.quality}
    elif cmd == "fault":
        params = {"fault": args.fault, "count": args.count}
    elif cmd == "poor-rate":
        params = {"rate": args.rate}
    try:
        if cmd == "press":
            reply = request(sock, "place", **params)
            if reply.get("ok"):
                time.sleep(args.hold)
                reply = request(sock, "lift")
        else:
            reply = request(sock, cmd, **params)
    except (FileNotFoundError, ConnectionRefusedError):
        print(
            f"{PROG}: error: no simulator is running in {args.dir} (start one: {PROG} run)",
            file=sys.stderr,
        )
        return 1
    if not reply.get("ok"):
        print(f"{PROG}: error: {reply.get('error', 'no reply')}", file=sys.stderr)
        return 1
    _print(reply, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

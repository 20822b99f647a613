"""The demo: a simulated module at datasheet speed, enrolled and pressed as in an office.

Stage 1 (sensor layer): a simulated R307 runs as its own process (``hadir-sim run``), is driven
from "the world" through its control socket, and the driver enrolls and identifies through the
unmodified pyfingerprint, surviving a fault on the way.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.prompts import say
from edge.sensor import PoorImage, R307Sensor, Slot
from edge.sensor.enrollment import Step, enroll
from edge.sensor.sim.control import request

PEOPLE = {"Yohanes Bria": "yohanes", "Maria Seran": "maria", "Agus Lede": "agus"}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="   [log] %(levelname)s %(name)s %(message)s")
    folder = Path(tempfile.mkdtemp(prefix="hadir-demo-"))
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.sensor.sim",
            "--dir",
            str(folder),
            "run",
            "--timing",
            "datasheet",
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        port = sim.stdout.readline().split(": ", 1)[1].strip()
        while not (folder / "control.sock").exists():
            time.sleep(0.05)
        sock = str(folder / "control.sock")
        print(f"== simulated R307 on {port} (datasheet timing, 57600 baud)")
        sensor = R307Sensor(port)
        info = sensor.info()
        print(
            f"   module: capacity {info.capacity}, packet {info.packet_size} B, "
            f"security {info.security_level}"
        )

        print("== enrollment (the technician's presses)")
        for slot, (name, finger) in enumerate(PEOPLE.items()):

            def person(step: Step, finger: str = finger) -> None:
                if step in (Step.PLACE, Step.PLACE_AGAIN):
                    request(sock, "place", finger=finger)
                elif step is Step.LIFT:
                    request(sock, "lift")

            score = enroll(sensor, Slot(slot), person, poll_s=0.05)
            print(f"   {name}: slot {slot}, verified with score {score}")

        print("== the morning rush (each line: finger on the glass -> what the terminal says)")
        presses = [
            ("yohanes", "good"),
            ("maria", "wet"),
            ("maria", "good"),
            ("stranger", "good"),
            ("agus", "good"),
        ]
        for finger, quality in presses:
            request(sock, "place", finger=finger, quality=quality)
            start = time.monotonic()
            try:
                match = sensor.identify()
                text = (
                    say("unknown")
                    if match is None
                    else say("found", slot=match.slot, score=match.score)
                )
            except PoorImage as exc:
                text = f"{say('retry')} [{exc.reason}]"
            request(sock, "lift")
            print(f"   {finger:9s} {quality:5s} {time.monotonic() - start:5.2f} s  {text}")

        print("== a stray byte on the wire, then the cable pulled and plugged back")
        request(sock, "fault", fault="stray-byte")
        request(sock, "place", finger="yohanes")
        match = sensor.identify()
        print(
            f"   after a stray byte: slot {match.slot if match else None}; "
            f"health {sensor.health().state.value}"
        )
        request(sock, "unplug")
        try:
            sensor.identify()
        except Exception as exc:  # noqa: BLE001 - shown to the viewer
            print(f"   unplugged: {exc}")
        request(sock, "replug")
        for _ in range(50):
            try:
                match = sensor.identify()
                break
            except Exception:  # noqa: BLE001 - the driver is backing off; try again shortly
                time.sleep(0.2)
        health = sensor.health()
        print(
            f"   replugged: slot {match.slot if match else None}; "
            f"state {health.state.value}, reopens {health.reopens}"
        )
        sensor.close()
        return 0
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

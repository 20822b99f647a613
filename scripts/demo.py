"""The demo: the whole pipeline on one machine, as an office morning would run it.

simulated R307 (hadir-sim) -> edge daemon (hadir-edge) -> mosquitto -> collector
(hadir-central) -> the central's database; every part a real process, talking real bytes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update

from central.attendance import compute_days
from central.attendance.absences import add_absence
from central.db import make_engine, upgrade
from central.devices import add_device
from central.registry import find_person
from central.schema import daily_status, device, person, person_number, punch
from edge.prompts import press_step, say
from edge.sensor.sim.control import request

DEVICE = "kupang-bkd-01"
DEVICE_B = "kupang-bkd-02"  # a second terminal at the same office: it learns every finger
ADMIN_TOKEN = "demo-admin-token-not-for-production"  # noqa: S105 - a throwaway demo token
DASHBOARD_PASSWORD = "demo-dashboard-password"  # noqa: S105 - a throwaway demo login
OFFICE = (-10.1632, 123.6017)  # the site's geofence centre
WITA = ZoneInfo("Asia/Makassar")
PEOPLE = {
    "198609262015051001": ("Yohanes Bria", "yohanes", "PNS"),
    "199203142019032002": ("Maria Seran", "maria", "PNS"),
    "200012312024211001": ("Agus Lede", "agus", "PPPK"),
}
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="hadir-demo-"))
    print(f"== Hadir demo in {work}")
    port = free_port()
    (work / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    db_url = f"sqlite:///{work / 'central.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    print(f"   central database {db_url}")
    api_port = free_port()
    (work / "admin-token").write_text(ADMIN_TOKEN)
    (work / "dashboard-secret").write_text(secrets.token_hex(32))
    (work / "central.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[api]\nhost = "127.0.0.1"\nport = {api_port}\nadmin_token_file = "admin-token"\n'
        '[dashboard]\nsecret_file = "dashboard-secret"\ncookie_secure = false\n'
        f'[templates]\nkey_file = "{work / "template.key"}"\nresend_after_s = 5\n'
    )
    roster = work / "pegawai.csv"
    roster.write_text(
        "NIP;Nama;Jenis Pegawai;Unit Kerja;Lokasi\n"
        + "".join(f"{nip};{n};{kind};BKPPD;Kantor BKPPD\n" for nip, (n, _, kind) in PEOPLE.items())
        + "19861331 201505 1 002;Salah Ketik;PNS;BKPPD;Kantor BKPPD\n"
    )
    for args in (
        ["unit", "add", "BKPPD", "BKPPD Kota Kupang"],
        ["site", "add", "BKPPD", "Kantor BKPPD", str(OFFICE[0]), str(OFFICE[1]), "--radius", "100"],
        ["import", str(roster), "--partial"],
        ["keys", "init"],
    ):
        out = subprocess.run(
            [PY, "-m", "central", "--config", str(work / "central.toml"), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        print("   $ hadir-central " + " ".join(a if " " not in a else repr(a) for a in args[:3]))
        for line in (out.stdout + out.stderr).strip().splitlines():
            print(f"     {line}")
    central_key = next(
        line.split('"')[1] for line in out.stdout.splitlines() if line.startswith("central_key")
    )
    with engine.begin() as conn:
        for dev, where in ((DEVICE, "lobby"), (DEVICE_B, "side entrance")):
            add_device(
                conn, dev, datetime.now(UTC), description=f"BKPPD, {where}", site_id="BKPPD-1"
            )
    print(f"   terminals {DEVICE} (lobby) and {DEVICE_B} (side entrance) registered at BKPPD-1")
    sim_dir = work / "sim"
    broker_cmd = [mosquitto, "-c", str(work / "mosquitto.conf")]
    with (
        process(broker_cmd, work / "mosquitto.log") as broker,
        process(
            [PY, "-m", "central", "--config", str(work / "central.toml"), "run"],
            work / "central.log",
        ),
        process(
            [
                PY,
                "-m",
                "edge.sensor.sim",
                "--dir",
                str(sim_dir),
                "run",
                "--timing",
                "datasheet",
                "--seed",
                "1",
            ],
            work / "sim.log",
        ),
        process(
            [PY, "-m", "edge.sensor.sim", "--dir", str(work / "sim-b"), "run", "--seed", "2"],
            work / "sim-b.log",
        ),
    ):
        wait_for(lambda: listening(port), 10, "mosquitto")
        wait_for((sim_dir / "control.sock").exists, 10, "the simulator")
        sock, tty = str(sim_dir / "control.sock"), str(sim_dir / "ttyR307")
        print(f"== mosquitto on 127.0.0.1:{port}; simulated R307 on {tty} (datasheet timing)")

        wait_for((work / "sim-b" / "control.sock").exists, 10, "the second simulator")
        # The central is up before the terminals, as in an office morning: the collector's
        # first session must exist before the terminals announce themselves.
        wait_for(
            lambda: "collector connected" in (work / "central.log").read_text(), 30, "the central"
        )
        sock_b, tty_b = str(work / "sim-b" / "control.sock"), str(work / "sim-b" / "ttyR307")
        admin_a, admin_b = work / "admin-a.sock", work / "admin-b.sock"
        for name, dev, port_path, admin in (
            ("edge", DEVICE, tty, admin_a),
            ("edge-b", DEVICE_B, tty_b, admin_b),
        ):
            (work / f"{name}-state").mkdir()
            (work / f"{name}.toml").write_text(
                f'[device]\nid = "{dev}"\nstate_dir = "{work / f"{name}-state"}"\n'
                f'[sensor]\nport = "{port_path}"\n[punch]\nrepeat_window_s = 5\n'
                f'[feedback]\npin_factory = "mock"\n'
                f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\ntls = false\nheartbeat_s = 2\n'
                f'[sync]\ncentral_key = "{central_key}"\n[admin]\nsocket = "{admin}"\n'
            )
        with (
            process(
                [PY, "-m", "edge", "run", "--config", str(work / "edge.toml")], work / "edge.log"
            ),
            process(
                [PY, "-m", "edge", "run", "--config", str(work / "edge-b.toml")],
                work / "edge-b.log",
            ),
        ):
            for name in ("edge", "edge-b"):
                wait_for(
                    lambda name=name: "ready device=" in (work / f"{name}.log").read_text(),
                    20,
                    f"the edge daemon ({name})",
                )
            print(f"== two terminals up (hadir-edge run): {DEVICE} and {DEVICE_B}")
            wait_for(lambda: edge_info(admin_a).get("roster") == len(PEOPLE), 20, "the roster")
            print(f"   the central sent {DEVICE} its roster: {len(PEOPLE)} people of BKPPD-1")
            print(f"== enrollment at {DEVICE} (hadir-edge enroll NIP right-index: three presses)")
            for nip, (name, finger, _) in PEOPLE.items():
                code, lines = technician_enroll(admin_a, sock, nip, finger)
                if code != 0:
                    raise SystemExit("demo: enrollment failed:\n" + "\n".join(lines))
                print(f"   {name}: {lines[-1].strip()}")
            wait_for(
                lambda: len(edge_list(admin_b)) == len(PEOPLE), 60, f"the fingers at {DEVICE_B}"
            )
            print(f"== {DEVICE_B} learnt them from the central (sealed to its key), untouched:")
            for entry in edge_list(admin_b):
                print(f"   slot {entry['slot']}: {entry['number']} {entry['finger']}")
            print("== the morning begins")
            print("   (repeat window shortened to 5 s for the demo; 60 s in production)")
            presses = [
                ("yohanes", "good", "Yohanes"),
                ("yohanes", "good", "Yohanes, unsure, again"),
                ("maria", "wet", "Maria, wet finger"),
                ("maria", "good", "Maria again"),
                ("stranger", "good", "a visitor (not enrolled)"),
                ("agus", "good", "Agus"),
            ]
            for finger, quality, who in presses:
                request(sock, "place", finger=finger, quality=quality)
                time.sleep(1.3)  # a person holds the finger about a second
                request(sock, "lift")
                time.sleep(0.4)
                print(f"   {who:28s} -> {last_answer(work / 'edge.log')}")
            request(sock_b, "place", finger="agus", quality="good")
            time.sleep(1.3)
            request(sock_b, "lift")
            time.sleep(0.4)
            answer = last_answer(work / "edge-b.log")
            print(f"   {'Agus, at the side entrance':28s} -> {answer} (at {DEVICE_B})")

            wait_for(lambda: count_punches(engine) >= 4, 20, "the punches at the central")
            print("== the broker is killed (SIGKILL); the terminal keeps punching into its outbox")
            broker.kill()
            broker.wait()
            request(sock, "place", finger="yohanes", quality="good")
            time.sleep(1.3)
            request(sock, "lift")
            time.sleep(0.4)
            answer = last_answer(work / "edge.log")
            print(f"   Yohanes leaves for a meeting -> {answer}")
            print(
                f"   at the central: {count_punches(engine)} punches; the terminal holds the rest"
            )
            with process(broker_cmd, work / "mosquitto.log"):
                print("== the broker is back; the terminal re-sends until the central acknowledges")
                wait_for(lambda: count_punches(engine) >= 5, 60, "the buffered punch delivered")
                time.sleep(2.5)  # one heartbeat
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        punch.c.device_id,
                        punch.c.seq,
                        punch.c.person,
                        punch.c.at,
                        punch.c.clock_synced,
                    ).order_by(punch.c.at)
                ).all()
                dev = conn.execute(select(device).where(device.c.id == DEVICE)).mappings().one()
            print("== the central's view of the templates (hadir-central template list):")
            listing = subprocess.run(
                [PY, "-m", "central", "--config", str(work / "central.toml"), "template", "list"],
                capture_output=True,
                text=True,
                check=False,
            )
            for line in (listing.stdout + listing.stderr).strip().splitlines():
                print(f"   {line}")
            android_demo(api_port)
        print("== at the central (punch table):")
        for r in rows:
            local = r.at.astimezone(WITA).strftime("%H:%M:%S WITA")
            print(
                f"   {r.device_id} seq {r.seq}  {PEOPLE[r.person][0]:14s} {local} "
                f"(clock_synced={r.clock_synced})"
            )
        print(
            f"== terminal {DEVICE}: acked_upto={dev['acked_upto']} sensor={dev['sensor']} "
            f"templates={dev['templates_used']}/{dev['templates_capacity']} "
            f"outbox={dev['outbox_depth']}"
        )
    today_and_recap(engine, work)
    print(f"== dashboard: run  hadir-central --config {work / 'central.toml'} run")
    print(f"   then open http://127.0.0.1:{api_port}/dashboard  (admin / {DASHBOARD_PASSWORD})")
    if "--serve" in sys.argv:
        print("   serving it now; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(
                [PY, "-m", "central", "--config", str(work / "central.toml"), "run"], check=False
            )
    print(f"   logs: {work}/*.log")
    return 0


def technician_enroll(admin: Path, sim: str, nip: str, finger: str) -> tuple[int, list[str]]:
    """`hadir-edge enroll` as a technician runs it; the person presses when the CLI says so."""
    proc = subprocess.Popen(
        [PY, "-m", "edge", "enroll", nip, "right-index", "--socket", str(admin)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    with proc.stdout:
        for line in proc.stdout:
            lines.append(line)
            step = press_step(line)
            if step == "place":
                request(sim, "place", finger=finger)
            elif step == "lift":
                request(sim, "lift")
    request(sim, "lift")
    return proc.wait(timeout=60), lines


def edge_json(admin: Path, command: str) -> dict[str, Any]:
    out = subprocess.run(
        [PY, "-m", "edge", command, "--json", "--socket", str(admin)],
        capture_output=True,
        text=True,
        check=False,
    )
    return dict(json.loads(out.stdout)) if out.returncode == 0 else {}


def edge_info(admin: Path) -> dict[str, Any]:
    return edge_json(admin, "info")


def edge_list(admin: Path) -> list[dict[str, Any]]:
    return list(edge_json(admin, "list").get("entries", []))


def today_and_recap(engine: Engine, work: Path) -> None:
    """Today's status from the live presses, a month of history, the recap files."""
    now = datetime.now(UTC)
    today = now.astimezone(WITA).date()
    with engine.begin() as conn:
        compute_days(conn, today, today, now=now)
        rows = (
            conn.execute(
                select(person.c.name, daily_status)
                .join(person, person.c.id == daily_status.c.person_id)
                .where(daily_status.c.work_date == today)
                .order_by(person.c.name)
            )
            .mappings()
            .all()
        )
    day_start = datetime.combine(today, clock_time(0), WITA).astimezone(UTC)
    with engine.connect() as conn:
        events = {
            nip: [
                t.astimezone(WITA).strftime("%H:%M")
                for t in conn.execute(
                    select(punch.c.at)
                    .where(punch.c.person == nip, punch.c.at >= day_start)
                    .order_by(punch.c.at)
                ).scalars()
            ]
            for nip in PEOPLE
        }
    by_name = {name: nip for nip, (name, _, _) in PEOPLE.items()}
    print(f"== today's status ({today:%A %d %B %Y}, computed by the rules):")
    for r in rows:
        times = ", ".join(events.get(by_name.get(r["name"], ""), [])) or "none"
        print(f"   {r['name']:14s} {r['status']:8s} fingerprint events today: {times}")
    print("   (PENDING: final once the check-out window has closed and the terminals report")
    print("    complete; events at this hour fall outside the 06:00-12:00 and 14:00-18:00 windows)")
    history(engine, today)
    month = f"{today:%Y-%m}"
    print(f"== the month's recap ({month}, unit BKPPD), written by hadir-central recap:")
    for fmt in ("csv", "xlsx", "pdf"):
        out = work / f"rekap-{month}-BKPPD.{fmt}"
        subprocess.run(
            [
                PY,
                "-m",
                "central",
                "--config",
                str(work / "central.toml"),
                "recap",
                "--month",
                month,
                "--unit",
                "BKPPD",
                "--format",
                fmt,
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        print(f"   {out}")
    lines = list(csv_lines(work / f"rekap-{month}-BKPPD.csv"))
    wanted = ["Nama", "HK", "H", "TL1", "TL2", "Menit TL", "C", "TK", "% Kehadiran", "Potongan (%)"]
    cols = [lines[0].index(w) for w in wanted if w in lines[0]]
    for line in lines[:4]:
        print("   " + " | ".join(line[c] for c in cols))
    # The recap read the month's totals that triggers keep beside the days; the same check
    # that runs before a month is finalised compares them with the days.
    config = str(work / "central.toml")
    check = subprocess.run(
        [PY, "-m", "central", "--config", config, "recap", "check", "--month", month],
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"   hadir-central recap check: {check.stdout.strip()}")


def csv_lines(path: Path) -> Iterator[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    yield from csv.reader(text.splitlines(), delimiter=";")


def history(engine: Engine, today: date) -> None:
    """The month so far, as the office's older terminal delivered it (a demo data set)."""
    rng = random.Random(30)
    first = today.replace(day=1)
    with engine.begin() as conn:
        add_device(
            conn, "kupang-bkd-arsip", datetime.now(UTC), description="older terminal (demo history)"
        )
        # The roster counts from the start of the month (it was imported minutes ago).
        conn.execute(
            update(person_number).values(valid_from=datetime.combine(first, clock_time(0), WITA))
        )
        people = {nip: find_person(conn, nip) for nip in PEOPLE}
        seq = 0
        rows = []
        day = first
        while day < today:
            if day.weekday() < 5:
                for nip, who in people.items():
                    if who is None or (nip.startswith("2000") and day.day in (9, 10)):
                        continue  # Agus: two days with no punch and no letter (TK)
                    late = rng.random() < 0.2
                    t_in = (
                        clock_time(7, rng.randint(35, 55))
                        if late
                        else clock_time(7, rng.randint(5, 29))
                    )
                    # Friday ends at 16:30, the other days at 16:00.
                    t_out = clock_time(
                        16, rng.randint(30, 50) if day.weekday() == 4 else rng.randint(1, 40)
                    )
                    for t in (t_in, t_out):
                        seq += 1
                        at = datetime.combine(day, t, WITA).astimezone(UTC)
                        rows.append(history_punch(seq, nip, at))
            day += timedelta(days=1)
        conn.execute(insert(punch), rows)
        maria = people["199203142019032002"]
        if maria is not None:
            add_absence(
                conn,
                maria.id,
                first + timedelta(days=15),
                first + timedelta(days=16),
                "CT",
                by="demo",
            )
        compute_days(conn, first, today - timedelta(days=1))
    print(
        f"== a month of history loaded ({seq} punches from an older terminal; Maria on CT 2 days)"
    )


def history_punch(seq: int, nip: str, at: datetime) -> dict[str, object]:
    return {
        "device_id": "kupang-bkd-arsip",
        "seq": seq,
        "id": str(uuid.uuid4()),
        "person": nip,
        "slot": 0,
        "score": 200,
        "at": at,
        "clock_synced": True,
        "boot_id": "demo-history",
        "mono_ns": seq,
        "received_at": at,
    }


def api(
    port: int, path: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our own local API
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def android_demo(port: int) -> None:
    wait_for(lambda: listening(port), 20, "the central's API")
    print("== Android check-ins (the central's HTTP API)")
    status, bound = api(
        port,
        "/v1/devices/bind",
        {"number": "199203142019032002", "device_id": "a1b2c3d4e5f60718"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    if status not in {200, 201}:
        print(f"   bind failed: {status} {bound}")
        return
    phone = {"Authorization": f"Bearer {bound['token']}", "X-Device-Id": "a1b2c3d4e5f60718"}
    now = datetime.now(UTC).isoformat()
    tries = [
        ("Maria at the office door", OFFICE[0] + 0.0003, OFFICE[1], 12.0, False),
        ("Maria at home, 3 km away", OFFICE[0] + 0.027, OFFICE[1], 10.0, False),
        ("Maria with a fake-GPS app", OFFICE[0], OFFICE[1], 5.0, True),
    ]
    for who, lat, lon, acc, mock in tries:
        body = {
            "client_time": now,
            "lat": lat,
            "lon": lon,
            "accuracy_m": acc,
            "mock_location": mock,
        }
        status, reply = api(port, "/v1/checkins", body, phone)
        if status == 201:
            site = reply.get("site") or {}
            where = f"{site.get('name')} ({reply.get('distance_m'):.0f} m)"
            print(f"   {who:28s} -> {status} accepted at {where}")
        else:
            print(f"   {who:28s} -> {status} {reply.get('code')}: {reply.get('message')}")


def count_punches(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return len(conn.execute(select(punch.c.seq)).all())


def last_answer(log: Path) -> str:
    for line in reversed(log.read_text().splitlines()):
        if "punch committed" in line:
            return "OK: " + say(
                "found",
                slot=line.split("slot=")[1].split()[0],
                score=line.split("score=")[1].split()[0],
            )
        if "repeated press" in line:
            return "OK (already recorded: repeated press, no new punch)"
        if "unknown finger" in line:
            return say("unknown")
        if "poor image" in line:
            return say("retry")
    return "(nothing yet)"


if __name__ == "__main__":
    sys.exit(main())

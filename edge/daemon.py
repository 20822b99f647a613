"""The edge daemon's wiring: config → store → sensor → feedback → publisher → sync → punch loop.

No business rules live here: each piece does its one job and this module connects them, owns
the signals and talks to systemd.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent.futures import Future
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import schedule
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from edge.admin.server import AdminServer, AdminServerError
from edge.admin.service import AdminService
from edge.clock import Clock, SystemClock
from edge.config import EdgeConfig, redact
from edge.feedback import Feedback, GpioPowerSwitch, TouchLine
from edge.jobs import JobQueue
from edge.notify import Notifier
from edge.publisher import MqttSettings, Publisher
from edge.punch import PunchLoop
from edge.sensor import FingerprintSensor, SensorError, open_sensor
from edge.store import DEVICE_ID, Store
from edge.sync import TemplateSync
from wire import Command, CommandResult, Status, validate_device_id
from wire.sealing import SealError, load_or_create_private_key, parse_public_key

log = logging.getLogger(__name__)


class DaemonError(Exception):
    """The daemon cannot start (wrong state directory, another device's store...)."""


def _version() -> str:
    try:
        return metadata.version("hadir")
    except metadata.PackageNotFoundError:
        return "dev"


def pin_factory(name: str | None) -> Any:
    """The gpiozero pin factory called ``name`` ("mock" off the Pi); None: gpiozero's default."""
    if name is None:
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory  # noqa: PLC0415 - only off the Pi

        return MockFactory()
    for entry in metadata.entry_points(group="gpiozero_pin_factories"):
        if entry.name == name:
            return entry.load()()
    raise DaemonError(f"[feedback].pin_factory: unknown gpiozero pin factory {name!r}")


def _central_key(config: EdgeConfig) -> X25519PublicKey | None:
    text = config.sync.central_key
    if text is None:
        log.warning(
            "template sync off: [sync].central_key is not set; punching works, enrollment is "
            "refused and nothing is installed from or reported to the central"
        )
        return None
    try:
        return parse_public_key(text, "[sync].central_key")
    except SealError as exc:
        raise DaemonError(str(exc)) from None


class Health:
    """What the heartbeat reports about the module, refreshed by the probe job."""

    def __init__(self) -> None:
        self.used: int | None = None
        self.capacity: int | None = None

    def refresh(self, sensor: FingerprintSensor) -> None:
        """Read the module's counts; a failure leaves the last known values and is logged."""
        try:
            info = sensor.info()
        except SensorError as exc:
            log.warning("sensor probe failed error=%r", str(exc))
            return
        self.used, self.capacity = info.used, info.capacity


class Daemon:
    """One terminal's daemon, built from its config."""

    def __init__(self, config: EdgeConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.device = validate_device_id(config.device.id)
        self.clock = clock or SystemClock()
        self.notifier = Notifier()
        state = Path(config.device.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        self.store = Store(state / "edge.db", utc_now=self.clock.utc_now)
        self._claim_store()
        fb = config.feedback
        self._pins = pin_factory(fb.pin_factory)
        self.feedback = Feedback(
            fb.green_pin, fb.red_pin, fb.amber_pin, fb.buzzer_pin, pin_factory=self._pins
        )
        s = config.sensor
        power = (
            GpioPowerSwitch(s.power_pin, pin_factory=self._pins)
            if s.power_pin is not None
            else None
        )
        self.sensor = open_sensor(
            s.port,
            baud=s.baud,
            address=s.address,
            password=s.password,
            timeout_s=s.timeout_s,
            power=power,
        )
        self.touch = (
            TouchLine(s.touch_pin, pin_factory=self._pins) if s.touch_pin is not None else None
        )
        self.health = Health()
        try:
            # Made on first start; it opens what the central installs here.
            private_key = load_or_create_private_key(state / "template.key")
        except (SealError, OSError) as exc:
            raise DaemonError(f"template key: {exc}") from None
        central_key = _central_key(config)
        self.work = JobQueue()
        self._commands_waiting: set[str] = set()
        self._commands_lock = threading.Lock()
        m = config.mqtt
        self.publisher = Publisher(
            self.device,
            self.store.outbox,
            MqttSettings(
                host=m.host,
                port=m.port,
                username=m.username,
                password=m.password,
                tls=m.tls,
                ca_file=str(m.ca_file) if m.ca_file else None,
                cert_file=str(m.cert_file) if m.cert_file else None,
                key_file=str(m.key_file) if m.key_file else None,
                keepalive_s=m.keepalive_s,
                reconnect_min_s=m.reconnect_min_s,
                reconnect_max_s=m.reconnect_max_s,
            ),
            self.status,
            batch_size=m.batch_size,
            ack_timeout_s=m.ack_timeout_s,
            on_connection=self._on_connection,
            on_command=self._on_command if central_key is not None else None,
            reports=self.store.templates if central_key is not None else None,
        )
        self.sync = TemplateSync(
            self.sensor,
            self.store,
            clock=self.clock,
            device=self.device,
            central_key=central_key,
            private_key=private_key,
            output=self.publisher,
        )
        self.admin = self._admin_server()
        self.jobs = schedule.Scheduler()
        self.loop = PunchLoop(
            self.sensor,
            self.store,
            self.feedback,
            self.clock,
            repeat_window_s=config.punch.repeat_window_s,
            poll_interval_s=s.poll_interval_s,
            on_punch=lambda _: self.publisher.notify(),
            on_tick=self._tick,
            touch=self.touch.wait_for_touch if self.touch is not None else None,
        )
        self._register_jobs()

    def _claim_store(self) -> None:
        # A store belongs to one device for life: its sequence numbers mean nothing under
        # another id, and the central would mix two terminals' punches.
        owner = self.store.meta.get(DEVICE_ID)
        if owner is None:
            self.store.meta.set(DEVICE_ID, self.device)
        elif owner != self.device:
            raise DaemonError(
                f"{self.store.path} belongs to device {owner!r}, not {self.device!r}; "
                "use a new state_dir for a new device id"
            )

    def _admin_server(self) -> AdminServer | None:
        """The technician's socket, when its directory exists (systemd's RuntimeDirectory)."""
        admin = self.config.admin
        if not admin.socket.parent.is_dir():
            # Not created here: /run/hadir belongs to systemd, and a bench or test run without
            # it must still punch.
            log.warning(
                "admin socket off: directory missing path=%s (create it, or set [admin].socket)",
                admin.socket,
            )
            return None
        service = AdminService(
            self.sensor,
            self.sync,
            self.work.submit,
            self.feedback,
            self.notifier.watchdog,
            people=self.store.people,
        )
        return AdminServer(admin.socket, admin.group, service)

    def _on_connection(self, up: bool) -> None:
        self.feedback.set_offline(not up)
        if up:
            # Every (re)connect: reconcile and tell the central what this terminal holds.
            self.sync.request_sync()

    def _on_command(self, command: Command) -> None:
        """A command from the central (paho's thread): run it on the sensor thread."""
        with self._commands_lock:
            # The central re-sends what it has no answer for, with the same id; while a fresh
            # terminal works through a site's templates the copies would queue up behind the
            # originals. One waiting copy is enough: its answer answers them all.
            if command.id in self._commands_waiting:
                return
            self._commands_waiting.add(command.id)

        def run() -> CommandResult:
            with self._commands_lock:
                self._commands_waiting.discard(command.id)
            return self.sync.handle_command(command)

        future = self.work.submit(run)

        def done(f: Future[CommandResult]) -> None:
            exc = f.exception()
            result = (
                CommandResult(command.id, False, f"internal error: {type(exc).__name__}")
                if exc is not None
                else f.result()
            )
            self.publisher.publish_result(result)

        future.add_done_callback(done)

    def status(self) -> Status:
        """The heartbeat (hadir/v1/dev/{device}/status, retained)."""
        used, capacity = self.health.used, self.health.capacity
        if used is not None and capacity is not None and used > capacity:
            used = None
        return Status(
            device=self.device,
            online=True,
            sensor=self.sensor.health().state.value,
            templates_used=used,
            templates_capacity=capacity,
            outbox_depth=self.store.outbox.depth(),
            clock_synced=self.clock.is_synced(),
            at=self.clock.utc_now(),
            versions={"hadir": _version()},
        )

    def _register_jobs(self) -> None:
        c = self.config
        # schedule counts whole seconds; sub-second periods make no sense for these jobs.
        heartbeat, probe = max(1, round(c.mqtt.heartbeat_s)), max(1, round(c.sensor.health_probe_s))
        self.jobs.every(heartbeat).seconds.do(self.publisher.publish_status)
        self.jobs.every(probe).seconds.do(self.health.refresh, self.sensor)
        self.jobs.every(1).hours.do(self.prune)
        self.jobs.every(1).hours.do(self.sync.request_sync)
        # Reports go out on every connect; this covers a collector that was away while the
        # broker stayed up (no persistent session yet), without waiting for a reconnect.
        self.jobs.every(5).minutes.do(self.publisher.reports_queued)
        self.jobs.every(5).minutes.do(self.check_clock)

    def prune(self) -> None:
        """Drop acknowledged punches older than the retention period."""
        cutoff = self.clock.utc_now() - timedelta(days=self.config.store.retention_days)
        dropped = self.store.outbox.prune(cutoff)
        if dropped:
            log.info("retention pruned=%d older_than=%s", dropped, cutoff.isoformat())

    def check_clock(self) -> None:
        """Say so in the log while the clock is not NTP-synchronised (punches are flagged)."""
        if not self.clock.is_synced():
            log.warning("system clock not synchronised; punches are flagged clock_synced=false")

    def _tick(self) -> None:
        self.notifier.watchdog()
        try:
            # Between two presses, on the sensor thread: nothing races a punch for the module.
            # About a second of queued work per pass, then a scan for a finger and a watchdog
            # ping: a long install queue slows punching down but never stops it.
            if self.work.run_pending(budget_s=1.0):
                # An enrollment, install or delete changed the library: the next heartbeat
                # must not report the old count for a whole probe period.
                self.health.refresh(self.sensor)
            self.sync.tick()
            self.jobs.run_pending()
        except Exception:
            # A failing periodic job must not stop punching.
            log.exception("periodic job failed")

    def run(self, *, handle_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or :meth:`stop`); returns the exit code."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("stopping signal=%s", signal.Signals(signum).name)
            self.loop.stop()

        if handle_signals:
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        # Read the module first, so the first heartbeat already carries its counts.
        self.health.refresh(self.sensor)
        # Reconcile at start-up (the first tick runs it, before the first press).
        self.sync.request_sync()
        self.publisher.start()
        self.prune()
        if self.admin is not None:
            try:
                self.admin.start()
            except (AdminServerError, OSError) as exc:
                # The technician's socket is a convenience; punching must go on without it.
                log.error(
                    "admin socket not started path=%s error=%r", self.config.admin.socket, str(exc)
                )
                self.admin = None
        log.info(
            "ready device=%s sensor=%s outbox_depth=%d sync=%s template_reports=%d",
            self.device,
            self.sensor.health().state.value,
            self.store.outbox.depth(),
            "on" if self.sync.enabled else "off",
            self.store.templates.report_count(),
        )
        self.notifier.ready(f"device {self.device}")
        try:
            self.loop.run()
        finally:
            self.notifier.stopping()
            self.close()
        return 0

    def stop(self) -> None:
        """Ask :meth:`run` to finish (tests and embedding; the service uses SIGTERM)."""
        self.loop.stop()

    def close(self) -> None:
        """Release everything, in the reverse order of building it."""
        if self.admin is not None:
            self.admin.close()
        self.publisher.stop()
        self.sensor.close()
        if self.touch is not None:
            self.touch.close()
        self.feedback.close()
        self.store.close()
        if self._pins is not None:
            self._pins.close()


def configure_logging(level: str) -> None:
    """One structured line per event on stdout, for journald (which adds the time)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def start(config: EdgeConfig) -> int:
    """Build the daemon from ``config`` and run it."""
    configure_logging(config.log.level)
    log.info("config %s", redact(config))
    return Daemon(config).run()

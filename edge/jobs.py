"""Work that must run on the thread that owns the sensor: the technician's and the central's.

The daemon's punch loop owns the serial port. An enrollment from the admin socket or a template
install from the central is handed to it here and runs between two presses, on that thread, so
nothing ever races a punch for the module (architecture.md: "enrollment never races a punch").
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class JobQueue:
    """A queue of functions that :meth:`run_pending` runs, in order, on the owner's thread."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn``; the future holds its result or its exception. Any thread may call."""
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future

    def pending(self) -> bool:
        """Whether a job waits."""
        return not self._jobs.empty()

    def run_pending(self, limit: int = 100, budget_s: float | None = None) -> int:
        """Run waiting jobs on the calling thread; returns how many ran.

        Args:
            limit: at most this many.
            budget_s: start no new job once this much time has passed (the first always
                runs). A fresh terminal filled with a site's 1,000 templates gets them as 1,000
                jobs of ~0.4 s; without a budget one tick would hold the punch loop, and the
                systemd watchdog it pings, for minutes.
        """
        ran = 0
        deadline = None if budget_s is None else time.monotonic() + budget_s
        while ran < limit and (deadline is None or ran == 0 or time.monotonic() < deadline):
            try:
                fn, future = self._jobs.get_nowait()
            except queue.Empty:
                break
            ran += 1
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - the caller decides; the loop lives on
                log.debug("job failed error=%s", type(exc).__name__)
                future.set_exception(exc)
        return ran

"""Group commit for check-ins: one writer thread per process, one transaction per group.

At 07:30 a worker has dozens of check-ins in flight at once. Each in its own transaction cost
a pool checkout, BEGIN and COMMIT (and on SQLite an fsync, one writer at a time) per request;
here the requests waiting when the writer comes round share one transaction and one commit
(:func:`central.api.checkins.store_checkins`), the way the collector stores MQTT messages. A
request is answered only after the commit that holds its check-in, as before.

The writer thread starts with the first check-in and ends after :data:`IDLE_S` without one, so
an idle process (or a test's short-lived app) keeps no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse

from central.api.auth import CheckinCaller
from central.api.checkins import CheckinRequest, store_checkins

if TYPE_CHECKING:
    from central.api.app import AppState

log = logging.getLogger(__name__)

#: Check-ins per transaction at most; a group is whatever waited, up to this.
MAX_GROUP = 64
#: The writer thread ends after this long without work.
IDLE_S = 2.0


@dataclass(slots=True)
class _Waiting:
    st: AppState
    body: CheckinRequest
    caller: CheckinCaller
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[JSONResponse]


def _settle(future: asyncio.Future[JSONResponse], answer: JSONResponse | BaseException) -> None:
    if future.done():  # the request was cancelled (the client went away); its row stays
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


class CheckinWriter:
    """Stores the check-ins of one process in groups; see the module docstring."""

    def __init__(self, max_group: int = MAX_GROUP, idle_s: float = IDLE_S) -> None:
        self.max_group = max_group
        self.idle_s = idle_s
        self._waiting: deque[_Waiting] = deque()
        self._wake = threading.Condition()
        self._running = False

    async def store(
        self, st: AppState, body: CheckinRequest, caller: CheckinCaller
    ) -> JSONResponse:
        """The answer to one check-in, once the transaction that holds it has committed.

        Raises:
            ApiError: 401 when the binding is gone by now (as ``store_checkin``).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[JSONResponse] = loop.create_future()
        with self._wake:
            self._waiting.append(_Waiting(st, body, caller, loop, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="checkin-writer", daemon=True).start()
            self._wake.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._waiting:
                    self._wake.wait(self.idle_s)
                if not self._waiting:
                    self._running = False
                    return
                group = [
                    self._waiting.popleft() for _ in range(min(self.max_group, len(self._waiting)))
                ]
            self._store(group)

    def _store(self, group: list[_Waiting]) -> None:
        # One application state per process in practice; grouped by it all the same.
        by_state: dict[int, list[_Waiting]] = {}
        for waiting in group:
            by_state.setdefault(id(waiting.st), []).append(waiting)
        for same in by_state.values():
            answers: Sequence[JSONResponse | BaseException]
            try:
                answers = store_checkins(same[0].st, [(w.body, w.caller) for w in same])
            # Whatever the failure (the database down, say), this thread must answer every
            # waiting request, or they would wait for ever: each gets the error, as a 500.
            except Exception as exc:  # noqa: BLE001
                log.error("checkin group failed size=%d error=%s", len(same), type(exc).__name__)
                answers = [exc] * len(same)
            for waiting, answer in zip(same, answers, strict=True):
                with contextlib.suppress(RuntimeError):  # that request's event loop has closed
                    waiting.loop.call_soon_threadsafe(_settle, waiting.future, answer)


__all__ = ["IDLE_S", "MAX_GROUP", "CheckinWriter"]

"""The check-in route's fast path: a valid check-in from a known phone, without FastAPI's routing.

At the 07:30 peak nearly every request is ``POST /v1/checkins`` from a phone whose token the
:class:`central.api.auth.BindingCache` holds, with a body that validates. For those, FastAPI's
routing and dependency solving (the bearer scheme, the header parameter, the body model) cost
about half of the application's CPU per check-in (yappi, bench/README.md "Check-in API"). This
ASGI middleware recognises exactly that case and calls the same work the route calls
(the writer of :mod:`central.api.groupcommit`: a transaction that re-reads the binding,
applies the policy, stores the verdict) with the same model and the same cache.

Anything else goes on to FastAPI untouched, with the body handed on as it was read: another
path or method, a missing or malformed header, a token the cache does not hold, a body that is
not JSON or does not validate, a body larger than :data:`MAX_BODY`. So every error a client can
get, and its wording, still comes from the one place that makes it; the fast path only ever
answers what the route would answer for the same request (the tests send the same requests
both ways and compare the answers and the stored rows). The OpenAPI document is the route's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.api.auth import (
    DEVICE_ID_PATTERN,
    ApiError,
    CheckinCaller,
    error_response,
    hash_token,
)
from central.api.checkins import CheckinRequest

if TYPE_CHECKING:
    from central.api.app import AppState

PATH = "/v1/checkins"
#: A check-in body is about 200 bytes; anything much larger is FastAPI's to refuse.
MAX_BODY = 16 * 1024
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


def _header(scope: Scope, name: bytes) -> str | None:
    # The first occurrence, as Starlette's request.headers.get() gives it.
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _caller(scope: Scope, st: AppState) -> CheckinCaller | None:
    """The caller, when the headers are what the route accepts and the cache holds the token."""
    authorization = _header(scope, b"authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    device_id = _header(scope, b"x-device-id")
    if device_id is None or not _DEVICE_ID.fullmatch(device_id):
        return None
    token_sha256 = hash_token(token)
    found = st.bindings.get(token_sha256)
    return None if found is None else CheckinCaller(token_sha256, found[0], device_id)


def _is_json(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type") or ""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class CheckinFastPath:
    """ASGI middleware: see the module docstring. Added by :func:`central.api.app.create_app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a valid check-in from a cached binding here; hand anything else on."""
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PATH
            and not scope.get("root_path")
            and _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        st: AppState = scope["app"].state.hadir
        caller = _caller(scope, st)
        if caller is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: FastAPI's to handle
                await self.app(scope, _replay(chunks, message, receive), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > MAX_BODY:
                await self.app(scope, _replay(chunks, None, receive, more=more), send)
                return
        raw = b"".join(chunks)
        try:
            body = CheckinRequest.model_validate_json(raw)
        except ValidationError:
            await self.app(scope, _replay([raw], None, receive), send)
            return
        try:
            response = await st.writer.store(st, body, caller)
        except ApiError as exc:  # the binding is gone: the same 401 as the route's handler
            response = error_response(exc)
        await response(scope, receive, send)


def _replay(
    chunks: list[bytes], pending: Message | None, receive: Receive, *, more: bool = False
) -> Receive:
    """A ``receive`` that hands on what was read, then reads on from the client."""
    queue: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": more or pending is not None}
    ]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


__all__ = ["MAX_BODY", "PATH", "CheckinFastPath"]

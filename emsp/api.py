"""Thin FastAPI app for the `live` runtime: ASGI request -> HttpRequest -> handler -> response.

`handler_app` serves any sans-IO OCPI party (the eMSP, or a simulated CPO); `create_app` adds the
eMSP's /metrics. No logic lives here beyond what HTTP itself needs:

- the handler is a plain ASGI app mounted last, so every path and every method (HEAD, OPTIONS, any
  verb) that no other route takes reaches it and is answered with the OCPI envelope, never the
  framework's `{"detail": ...}` 404/405;
- the body is read as a stream and refused with HTTP 413 (envelope) once it passes the limit, so a
  huge upload is never held in memory; a body that is not UTF-8 is HTTP 400 (it cannot be JSON);
- with a core thread, the handler's database work runs off the loop; without, inline (a simulated
  CPO whose state the live runtime also changes from the loop);
- a deferred response (credentials POST/PUT wait on the eMSP's own calls to the client) is awaited
  on the loop while the runtime's outbound pump sends those calls and feeds their answers back.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI, Header, Response
from starlette.types import Receive, Scope, Send

from emsp.core import EmspCore
from emsp.core_thread import CoreThread
from emsp.ocpi.envelope import respond
from emsp.pulse import Pulse
from emsp.wire import Deferred, HttpRequest, HttpResponse

Handler = Callable[[HttpRequest, datetime], HttpResponse | Deferred]
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFERRED_TIMEOUT_S = 20.0  # wall seconds a deferred response may wait on the partner (then 3001)
_POLL_S = 0.005
T = TypeVar("T")
_log = structlog.get_logger("emsp.api")


class DeferredResponses(Protocol):
    """Where a deferred response shows up (the eMSP core); someone else sends its outbound calls."""

    def take_response(self, deferred_id: str) -> HttpResponse | None: ...
    def abort_deferred(self, deferred_id: str, now: datetime, reason: str = ...) -> None: ...


async def _run(core_thread: CoreThread | None, fn: Callable[..., T], *args: Any) -> T:
    """On the core thread when there is one (the core is not thread-safe), else inline."""
    return await core_thread.call(fn, *args) if core_thread else fn(*args)


async def await_deferred(
    source: DeferredResponses,
    deferred_id: str,
    clock: Callable[[], datetime],
    timeout_s: float,
    core_thread: CoreThread | None = None,
    pulse: Pulse | None = None,
) -> HttpResponse:
    """Wait for a deferred response; past `timeout_s` the handshake is failed (3001) and answered.

    With a core thread it looks again only after another core call ran (the pump feeding the
    partner's answers in); inline, it looks again after each `pulse` (every 5 ms without one) while
    the runtime's pump sends the outbound calls."""
    loop = asyncio.get_running_loop()
    if core_thread is not None:
        resp = await core_thread.poll(source.take_response, deferred_id, timeout=timeout_s)
    else:
        give_up = loop.time() + timeout_s
        while (resp := source.take_response(deferred_id)) is None and loop.time() < give_up:
            if pulse is None:
                await asyncio.sleep(_POLL_S)
            else:
                await pulse.wait(give_up - loop.time())
    if resp is None:
        reason = f"no answer within {timeout_s:g} s"
        await _run(core_thread, source.abort_deferred, deferred_id, clock(), reason)
        resp = await _run(core_thread, source.take_response, deferred_id)
        if resp is None:  # cannot happen: abort always produces the response
            raise RuntimeError(f"deferred response {deferred_id} vanished")
    return resp


class _BodyTooLarge(Exception):
    pass


class OcpiAsgi:
    """Every request as an `HttpRequest` to the sans-IO handler (on the core thread when given)."""

    def __init__(
        self,
        handle: Handler,
        clock: Callable[[], datetime],
        max_body_bytes: int,
        core_thread: CoreThread | None = None,
        deferred: DeferredResponses | None = None,
        deferred_timeout_s: float = DEFERRED_TIMEOUT_S,
        pulse: Pulse | None = None,
    ) -> None:
        self.handle = handle
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.core_thread = core_thread
        self.deferred = deferred
        self.deferred_timeout_s = deferred_timeout_s
        self.pulse = pulse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            raw = await self._body(scope, receive)
            body = raw.decode("utf-8") if raw else None
        except _BodyTooLarge:
            resp = self._error(413, f"request body larger than {self.max_body_bytes} bytes")
            resp.headers["Connection"] = "close"  # the rest of the upload is not read
        except UnicodeDecodeError:
            resp = self._error(400, "request body is not valid JSON: not UTF-8")
        else:
            try:
                resp = await self._answer(self._request(scope, body))
            except Exception as exc:  # storage failed under the core (its group commit): not stored
                _log.error("request_not_stored", path=scope["path"], error=repr(exc))
                resp = respond(http_status=503, status_code=3000, now=self.clock(),
                               message="the request could not be stored; retry later",
                               headers={"Retry-After": "1"})  # fmt: skip
        await _send(send, resp, head=scope["method"] == "HEAD")

    async def _answer(self, req: HttpRequest) -> HttpResponse:
        answer = await _run(self.core_thread, self.handle, req, self.clock())
        if not isinstance(answer, Deferred):
            return answer
        if self.deferred is None:
            raise RuntimeError("the handler deferred a response but nothing delivers it")
        return await await_deferred(
            self.deferred, answer.deferred_id, self.clock, self.deferred_timeout_s, self.core_thread,
            pulse=self.pulse,
        )  # fmt: skip

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _request(self, scope: Scope, body: str | None) -> HttpRequest:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host") or "localhost"
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        url = f"{scope.get('scheme', 'http')}://{host}{path.decode('latin-1')}" + (
            f"?{query}" if query else ""
        )
        return HttpRequest(scope["method"], url, headers, body)

    def _error(self, http_status: int, message: str) -> HttpResponse:
        return respond(http_status=http_status, status_code=2000 if http_status == 413 else 2001,
                       message=message, now=self.clock())  # fmt: skip


async def _send(send: Send, resp: HttpResponse, *, head: bool) -> None:
    payload = (resp.body or "").encode("utf-8")
    headers: list[tuple[bytes, bytes]] = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in resp.headers.items()
        if k.lower() != "content-length"
    ]
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else payload})


def handler_app(
    handle: Handler,
    clock: Callable[[], datetime],
    *,
    title: str,
    app: FastAPI | None = None,
    core_thread: CoreThread | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    deferred: DeferredResponses | None = None,
    deferred_timeout_s: float = DEFERRED_TIMEOUT_S,
    pulse: Pulse | None = None,
) -> FastAPI:
    """`pulse`: pulsed after every call into `deferred` (inline, no core thread), so a deferred
    answer is taken as soon as it is there."""
    app = app or FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    ocpi = OcpiAsgi(handle, clock, max_body_bytes, core_thread, deferred, deferred_timeout_s, pulse)
    # Mounted at "" after every other route: it takes whatever they do not (any path, any method).
    app.mount("", ocpi)
    app.state.ocpi_asgi = ocpi  # for `ocpi_first`
    return app


class OcpiFirst:
    """ASGI front: requests under the OCPI prefix go straight to the OCPI handler, all others to
    the FastAPI app. The answers are the same (no route of the app lives under the prefix, so its
    catch-all mount would take them anyway); what is saved is the framework's middleware stack and
    route matching, several times the cost of the bare handler call on the authorize path."""

    def __init__(self, app: FastAPI, ocpi: OcpiAsgi, prefix: str) -> None:
        self.app = app
        self.ocpi = ocpi
        self.prefix = prefix.rstrip("/")
        self._under = self.prefix + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self._under) or path == self.prefix:
                await self.ocpi(scope, receive, send)
                return
        await self.app(scope, receive, send)


def ocpi_first(app: FastAPI, base_url: str) -> FastAPI | OcpiFirst:
    """`app` with the OCPI fast path in front of it, or `app` itself when a route of the app could
    answer under the OCPI prefix (the public base URL's path) or the prefix is the root."""
    ocpi = getattr(app.state, "ocpi_asgi", None)
    prefix = urlsplit(base_url).path.rstrip("/")
    if not isinstance(ocpi, OcpiAsgi) or not prefix:
        return app
    for route in app.routes:
        path = getattr(route, "path", "")
        if path and (path == prefix or path.startswith(prefix + "/") or prefix.startswith(path + "/")):
            return app  # a route shares the prefix: only the framework's routing can decide
    return OcpiFirst(app, ocpi, prefix)


def core_thread(core: EmspCore) -> CoreThread:
    """The thread that serves every request into `core`, with group commit of its deferred writes:
    pipelined (committed on a connection of its own while the next batch runs) unless the database
    is one shared connection (in-memory SQLite), where the core thread commits between batches."""
    core.tokens.defer_records = True
    if core.db.single_connection:
        return CoreThread(after_batch=core.commit_deferred, batch_scope=core.db.scope)
    tokens = core.tokens

    def detach() -> list[dict[str, Any]]:
        rows = tokens.take_records()
        core.commit_deferred()  # anything else deferred, inline (the records are taken already)
        return rows

    return CoreThread(batch_scope=core.db.scope, detach=detach, commit=tokens.write_records)


def create_app(
    core: EmspCore,
    clock: Callable[[], datetime],
    *,
    app: FastAPI | None = None,
    core_thread: CoreThread | None = None,
    deferred_timeout_s: float = DEFERRED_TIMEOUT_S,
    metrics_token: str | None = None,
) -> FastAPI:
    """`metrics_token`: /metrics wants `Authorization: Bearer <it>` (401 otherwise); None: open
    (the bench's own loopback runs)."""
    app = app or FastAPI(title="emsp-bench eMSP", openapi_url=None, docs_url=None, redoc_url=None)
    expected = None if metrics_token is None else metrics_token.encode("utf-8")

    @app.get("/metrics")
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        if expected is not None:
            scheme, _, given = (authorization or "").partition(" ")
            # compare_digest: a near miss takes as long to refuse as a wild guess.
            if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode("utf-8"), expected):
                return Response("missing or wrong bearer token\n", status_code=401,
                                headers={"WWW-Authenticate": "Bearer"}, media_type="text/plain")  # fmt: skip
        return Response(core.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return handler_app(
        core.handle, clock, title="emsp-bench eMSP", app=app, core_thread=core_thread,
        max_body_bytes=core.settings.max_body_bytes, deferred=core, deferred_timeout_s=deferred_timeout_s,
    )  # fmt: skip

"""Real HTTP for the `live` runtime: uvicorn serves sans-IO handlers, httpx sends requests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import uvicorn
from starlette.types import ASGIApp

from emsp.api import create_app, handler_app
from emsp.core import EmspCore
from emsp.wire import HttpRequest, HttpResponse

TRANSPORT_FAILED = 599  # no HTTP answer at all (refused, reset, timed out)

Handler = Callable[[HttpRequest, datetime], HttpResponse]


class _QuietServer(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handlers: Ctrl-C must stop the whole run, not
    silently stop the servers while the run goes on and blames the eMSP for the silence."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = _QuietServer(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_emsp(cls, core: EmspCore, clock: Callable[[], datetime], sock: socket.socket) -> HttpServer:
        return cls(create_app(core, clock), sock)

    @classmethod
    def for_handler(cls, handle: Handler, clock: Callable[[], datetime], sock: socket.socket) -> HttpServer:
        return cls(handler_app(handle, clock, title="mock CPO"), sock)

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():  # startup failed: surface it instead of waiting forever
                self._task.result()
                raise RuntimeError("HTTP server stopped during startup")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def send_http(client: httpx.AsyncClient, request: HttpRequest) -> HttpResponse:
    """Send for real; a transport failure becomes a 599 response so the models see a failed call."""
    try:
        response = await client.request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body.encode("utf-8") if request.body is not None else None,
        )
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        # not only the network: a URL httpx cannot parse or a header it cannot encode (no
        # HTTPError) must also be a failed call, not an exception that kills the sending task
        return HttpResponse(status=TRANSPORT_FAILED, headers={}, body=None)
    skip = {"content-length", "date", "server", "transfer-encoding", "connection"}
    headers = {k: v for k, v in response.headers.items() if k.lower() not in skip}
    return HttpResponse(status=response.status_code, headers=headers, body=response.text or None)

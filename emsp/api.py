"""Thin FastAPI app for the `live` runtime: Starlette request -> HttpRequest -> handler -> response.

`handler_app` serves any sans-IO OCPI party (the eMSP, or a simulated CPO); `create_app` adds the
eMSP's /metrics. No logic lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request, Response

from emsp.core import EmspCore
from emsp.core_thread import CoreThread
from emsp.wire import HttpRequest, HttpResponse

Handler = Callable[[HttpRequest, datetime], HttpResponse]


def handler_app(
    handle: Handler,
    clock: Callable[[], datetime],
    *,
    title: str,
    app: FastAPI | None = None,
    core_thread: CoreThread | None = None,
) -> FastAPI:
    app = app or FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)

    # async: the body is read on the loop; the sans-IO handler runs one request at a time (below).
    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def ocpi(request: Request, path: str) -> Response:
        raw = await request.body()
        body = raw.decode("utf-8", errors="replace") if raw else None
        req = HttpRequest(request.method, str(request.url), dict(request.headers.items()), body)
        # With a core thread, database work runs off the loop; without, inline (a simulated CPO
        # whose state the live runtime also changes from the loop).
        resp = await core_thread.call(handle, req, clock()) if core_thread else handle(req, clock())
        return Response(resp.body or b"", status_code=resp.status, headers=resp.headers)

    return app


def core_thread(core: EmspCore) -> CoreThread:
    """The thread that serves every request into `core`, with group commit of its deferred writes."""
    core.tokens.defer_records = True
    return CoreThread(after_batch=core.commit_deferred)


def create_app(
    core: EmspCore,
    clock: Callable[[], datetime],
    *,
    app: FastAPI | None = None,
    core_thread: CoreThread | None = None,
) -> FastAPI:
    app = app or FastAPI(title="emsp-bench eMSP", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(core.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return handler_app(core.handle, clock, title="emsp-bench eMSP", app=app, core_thread=core_thread)

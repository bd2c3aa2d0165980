"""Thin FastAPI app for the `live` runtime: Starlette request -> HttpRequest -> handler -> response.

`handler_app` serves any sans-IO OCPI party (the eMSP, or a simulated CPO); `create_app` adds the
eMSP's /metrics. No logic lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request, Response

from emsp.core import EmspCore
from emsp.wire import HttpRequest, HttpResponse

Handler = Callable[[HttpRequest, datetime], HttpResponse]


def handler_app(
    handle: Handler, clock: Callable[[], datetime], *, title: str, app: FastAPI | None = None
) -> FastAPI:
    app = app or FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)

    # async: the sans-IO handler runs on the event loop, one request at a time, never in a thread pool.
    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def ocpi(request: Request, path: str) -> Response:
        raw = await request.body()
        body = raw.decode("utf-8", errors="replace") if raw else None
        req = HttpRequest(request.method, str(request.url), dict(request.headers.items()), body)
        resp = handle(req, clock())
        return Response(resp.body or b"", status_code=resp.status, headers=resp.headers)

    return app


def create_app(core: EmspCore, clock: Callable[[], datetime], *, app: FastAPI | None = None) -> FastAPI:
    app = app or FastAPI(title="emsp-bench eMSP", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(core.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return handler_app(core.handle, clock, title="emsp-bench eMSP", app=app)

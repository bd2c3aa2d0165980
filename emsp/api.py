"""Thin FastAPI app for the `live` runtime: Starlette request -> HttpRequest -> core -> response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request, Response

from emsp.core import EmspCore
from emsp.wire import HttpRequest


def create_app(core: EmspCore, clock: Callable[[], datetime]) -> FastAPI:
    app = FastAPI(title="emsp-bench eMSP", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(core.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def ocpi(request: Request, path: str) -> Response:
        raw = await request.body()
        body = raw.decode("utf-8", errors="replace") if raw else None
        req = HttpRequest(request.method, str(request.url), dict(request.headers.items()), body)
        resp = core.handle(req, clock())
        return Response(resp.body or b"", status_code=resp.status, headers=resp.headers)

    return app

"""One FastAPI application for the whole service: OCPI under /ocpi/, /metrics, the contract API
under /api/v1 (OpenAPI at /api/v1/openapi.json) and its docs at /docs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from emsp.api import create_app
from emsp.contract.app import create_contract_app
from emsp.core import EmspCore
from emsp.core_thread import CoreThread

CONTRACT_PREFIX = "/api/v1"


def create_service_app(
    core: EmspCore,
    admin_token: str,
    clock: Callable[[], datetime],
    *,
    core_thread: CoreThread | None = None,
    metrics_token: str | None = None,
) -> FastAPI:
    """With `core_thread`, OCPI and the contract API both do their core work on it (one thread).
    /metrics wants `metrics_token` as bearer token, the admin token when it is None."""
    app = FastAPI(title="emsp-bench eMSP", openapi_url=None, docs_url=None, redoc_url=None)
    contract = create_contract_app(core, admin_token, clock, core_thread=core_thread)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{CONTRACT_PREFIX}/openapi.json", title=f"{contract.title} — docs"
        )

    # Mounted before the OCPI catch-all route, which would otherwise answer /api/v1 with an OCPI 404.
    app.mount(CONTRACT_PREFIX, contract)
    return create_app(
        core, clock, app=app, core_thread=core_thread, metrics_token=metrics_token or admin_token
    )

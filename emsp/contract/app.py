"""`create_contract_app`: the `/api/v1` sub-application, one router per resource.

Each resource lives in its own module exposing `make_router(core) -> APIRouter`; list it in
`ROUTERS`. The admin-token check is applied here, when a router is included, so no endpoint can
forget it. Endpoints are `async def`: like the OCPI handler they run on the event loop, one at a
time, because the core is not thread-safe (a plain `def` endpoint would run in a thread pool).
The current time comes from `Depends(emsp.contract.deps.now)`, never from the wall clock directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError

from emsp.contract import (
    billing,
    cdrs,
    commands,
    events,
    fraud,
    health,
    identity,
    invoices,
    partners,
    quotes,
    sessions,
    tokens,
)
from emsp.contract.auth import bearer_auth
from emsp.contract.guard import COMMON_RESPONSES, BodyLimit, validation_error
from emsp.core import EmspCore
from emsp.core_thread import CoreThread

RouterFactory = Callable[[EmspCore], APIRouter]

API_VERSION = "1"
MAX_BODY_BYTES = 1024 * 1024  # the largest contract request (a partner, a token) is a few hundred bytes
ROUTERS: tuple[RouterFactory, ...] = (
    health.make_router,
    partners.make_router,
    tokens.make_router,
    sessions.make_router,
    cdrs.make_router,
    invoices.make_router,
    quotes.make_router,
    events.make_router,
    identity.make_router,
    fraud.make_router,
    billing.make_router,  # accounts, contracts, drivers, retail lines, invoices (emsp.billing)
    commands.make_router,
)


def create_contract_app(
    core: EmspCore,
    admin_token: str,
    clock: Callable[[], datetime],
    *,
    routers: Sequence[RouterFactory] = ROUTERS,
    core_thread: CoreThread | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The contract API, to be mounted at `/api/v1` (its OpenAPI is then `/api/v1/openapi.json`)."""
    if not admin_token:
        raise ValueError("the contract API needs a non-empty admin token")
    app = FastAPI(
        title="emsp-bench eMSP contract API",
        version=API_VERSION,
        description="The partner-agnostic API of the eMSP: partners, drivers and tokens, sessions, "
        "CDRs, invoice lines, quotes, events. Every endpoint wants `Authorization: Bearer <admin token>`.",
        openapi_url="/openapi.json",
        docs_url=None,  # the service serves the docs at the top-level /docs
        redoc_url=None,
    )
    app.state.core = core
    app.state.clock = clock
    app.state.core_thread = core_thread  # endpoints run their database work there (emsp.contract.deps)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    # Before the authenticated routes: /health/live and /health/ready answer without a token.
    public = {code: answer for code, answer in COMMON_RESPONSES.items() if code != 401}
    app.include_router(health.make_public_router(core), responses=public)
    authenticated = [Depends(bearer_auth(admin_token))]
    for make_router in routers:
        app.include_router(make_router(core), dependencies=authenticated, responses=COMMON_RESPONSES)
    return app

"""Health of the service.

- `GET /api/v1/health/live` and `/api/v1/health/ready` need no token, so a load balancer or an
  orchestrator can probe them; they say ok or not and nothing else (no database name, no error).
  Live: the process answers HTTP. Ready: its database answers too.
- `GET /api/v1/health` (admin token) says the same with the database error's first line.

The database is probed in a worker thread with a time limit, never on the event loop: a database
that hangs makes the probe answer 503, not stall every other request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy import text

from emsp.contract.models import Health
from emsp.core import EmspCore

PROBE_TIMEOUT_S = 2.0


class Probe(BaseModel):
    status: str


async def _database_problem(core: EmspCore) -> str | None:
    """None when the database answered `SELECT 1` in time; else why not (first line)."""

    def probe() -> None:
        with core.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(probe), PROBE_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    except Exception as exc:  # any driver or pool error: not ready, and say why (admin only)
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def make_router(core: EmspCore) -> APIRouter:
    """The detailed health answer (mounted behind the admin token)."""
    router = APIRouter(tags=["health"])

    @router.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "the database is unreachable"}},
    )
    async def health(response: Response) -> Health:
        problem = await _database_problem(core)
        if problem is not None:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return Health(status="unavailable", database="unreachable", detail=problem)
        return Health(status="ok", database="ok")

    return router


def make_public_router(core: EmspCore) -> APIRouter:
    """Liveness and readiness for probes that hold no token (mounted without authentication)."""
    router = APIRouter(tags=["health"])
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {"model": Probe, "description": "not ready: the database does not answer"}
    }

    @router.get("/health/live", response_model=Probe)
    async def live() -> Probe:
        return Probe(status="ok")

    @router.get("/health/ready", response_model=Probe, responses=unavailable)
    async def ready(response: Response) -> Probe:
        if await _database_problem(core) is not None:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return Probe(status="unavailable")
        return Probe(status="ok")

    return router

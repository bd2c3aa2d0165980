"""`GET /api/v1/health`: is the service able to work (its database reachable)?"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from emsp.contract.models import Health
from emsp.core import EmspCore


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "the database is unreachable"}},
    )
    async def health(response: Response) -> Health:
        try:
            with core.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Health(status="unavailable", database="unreachable", detail=reason)
        return Health(status="ok", database="ok")

    return router

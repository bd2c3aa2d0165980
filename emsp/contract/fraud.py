"""`/api/v1/fraud/decisions`: every fraud rule that fired, with its reason (emsp.services.fraud)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from sqlalchemy import select

from emsp.contract.common import (
    DateRange,
    PageParams,
    date_range,
    filter_eq,
    filter_range,
    page_params,
    paginate,
)
from emsp.contract.deps import Run
from emsp.contract.models import Page, _Out
from emsp.core import EmspCore
from emsp.storage.tables import FraudDecisionRow


class FraudDecisionOut(_Out):
    token_uid: str
    token_type: str
    driver_id: str | None
    partner: str
    location_id: str | None
    object_id: str | None  # the authorization reference or CDR a flag is about
    at: datetime
    rule: str
    decision: Literal["refuse", "flag"]
    detail: str


def decision_out(row: FraudDecisionRow) -> FraudDecisionOut:
    return FraudDecisionOut(
        token_uid=row.token_uid,
        token_type=row.token_type,
        driver_id=row.driver_id,
        partner=row.partner,
        location_id=row.location_id,
        object_id=row.object_id,
        at=row.at,
        rule=row.rule,
        decision=row.decision,  # type: ignore[arg-type]
        detail=row.detail,
    )


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["fraud"])

    @router.get("/fraud/decisions", response_model=Page[FraudDecisionOut])
    async def list_decisions(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        span: Annotated[DateRange, Depends(date_range)],
        token_uid: str | None = None,
        driver_id: str | None = None,
        partner: str | None = None,
        rule: str | None = None,
        decision: Literal["refuse", "flag"] | None = None,
    ) -> Page[FraudDecisionOut]:
        """Fraud decisions in the order they were taken: refused authorizations and flags."""
        stmt = filter_eq(
            select(FraudDecisionRow),
            [
                (FraudDecisionRow.token_uid, token_uid),
                (FraudDecisionRow.driver_id, driver_id),
                (FraudDecisionRow.partner, partner),
                (FraudDecisionRow.rule, rule),
                (FraudDecisionRow.decision, decision),
            ],
        )
        stmt = filter_range(stmt, FraudDecisionRow.at, span)

        def work() -> Page[FraudDecisionOut]:
            with core.db.unit() as db:
                return paginate(db, stmt, FraudDecisionRow.pk, page, decision_out)

        return await run(work)

    return router

"""`/api/v1/drivers/{driver_id}/...`: federated identity (emsp.services.identity).

One canonical driver, one token per partner: issue the driver's credentials for every partner,
block or unblock all of them at once, replace them (a lost or cloned card). Each change goes
through the core's token write path, so it is on the event stream and pushed (mod_tokens PUT) to
that token's partner only. `GET /drivers/{driver_id}` (emsp.contract.tokens) shows the result.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from emsp.contract.common import invalid, not_found
from emsp.contract.deps import Run, now
from emsp.contract.guard import NOT_FOUND
from emsp.contract.models import DriverOut, _In, _Out
from emsp.contract.tokens import driver_out
from emsp.core import EmspCore
from emsp.services import identity
from emsp.storage.tables import DriverRow

Now = Annotated[datetime, Depends(now)]


class CredentialsIssue(_In):
    """Which partners get a token (default: every configured partner) and the EV's battery."""

    partners: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = None
    max_battery_kwh: Annotated[Decimal, Field(gt=0, le=1000)] | None = None


class CredentialsOut(_Out):
    """The driver after the change, and the uids it issued or changed."""

    driver: DriverOut
    changed: list[str]


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["drivers"])

    def _driver(driver_id: str, changed: list[str]) -> CredentialsOut:
        with core.db.unit() as db:
            rows = identity.driver_tokens(db, driver_id)
            canonical = db.get(DriverRow, driver_id)
            account = canonical.account_id if canonical is not None else None
            return CredentialsOut(driver=driver_out(driver_id, rows, account), changed=changed)

    def _known(driver_id: str) -> None:
        with core.db.unit() as db:
            if not identity.driver_tokens(db, driver_id):
                raise not_found(f"driver {driver_id}")

    @router.post(
        "/drivers/{driver_id}/credentials",
        status_code=201,
        response_model=CredentialsOut,
        responses=NOT_FOUND,
    )
    async def issue_credentials(
        driver_id: str, at: Now, run: Run, spec: CredentialsIssue | None = None
    ) -> CredentialsOut:
        """A token for every partner (or those named) the canonical driver (`drivers`, created under
        /accounts/{account_id}/drivers) has no valid token with yet, each pushed to its partner; a
        second call issues nothing new. 404: no such driver; 422: a partner not configured."""
        body = spec or CredentialsIssue()

        def work() -> CredentialsOut:
            with core.db.unit() as db:
                if db.get(DriverRow, driver_id) is None:
                    raise not_found(f"driver {driver_id} (create it under /accounts/{{account_id}}/drivers)")
            try:
                issued = core.issue_credentials(
                    driver_id, now=at, partners=body.partners, max_battery_kwh=body.max_battery_kwh
                )
            except KeyError as exc:
                raise invalid(str(exc.args[0]), loc=("body", "partners")) from exc
            return _driver(driver_id, issued)

        return await run(work)

    def _change(driver_id: str, action: str, at: datetime) -> CredentialsOut:
        _known(driver_id)
        if action == "replace":
            changed = core.replace_credentials(driver_id, now=at)
        else:
            changed = core.set_driver_valid(driver_id, action == "unblock", now=at)
        return _driver(driver_id, changed)

    @router.post("/drivers/{driver_id}/block", response_model=CredentialsOut, responses=NOT_FOUND)
    async def block_driver(driver_id: str, at: Now, run: Run) -> CredentialsOut:
        """Every token of the driver answers BLOCKED from now on; each partner is told."""
        return await run(lambda: _change(driver_id, "block", at))

    @router.post("/drivers/{driver_id}/unblock", response_model=CredentialsOut, responses=NOT_FOUND)
    async def unblock_driver(driver_id: str, at: Now, run: Run) -> CredentialsOut:
        """The driver's current token per partner is valid again (replaced ones stay blocked)."""
        return await run(lambda: _change(driver_id, "unblock", at))

    @router.post("/drivers/{driver_id}/replace", response_model=CredentialsOut, responses=NOT_FOUND)
    async def replace_credentials(driver_id: str, at: Now, run: Run) -> CredentialsOut:
        """A lost or cloned card: every current token blocked, a new uid per partner (same contract)."""
        return await run(lambda: _change(driver_id, "replace", at))

    return router

"""`/api/v1/commands`: remote commands to a charger through its CPO (OCPI mod_commands).

POST sends one (START_SESSION from a driver's app, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION,
UNLOCK_CONNECTOR): the eMSP finds the CPO that holds the Location (or Session), writes the
command in that partner's OCPI version and POSTs it; the answer is the stored command, REQUESTED.
GET shows what became of it: the CPO's CommandResponse, then the Charge Point's CommandResult, or
TIMEOUT when one of them did not come in time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from emsp.contract.common import invalid, not_found
from emsp.contract.deps import Run, now
from emsp.contract.guard import NOT_FOUND
from emsp.core import EmspCore
from emsp.model import CommandRequest, PartyRef
from emsp.ocpi.command_send import CommandRefused

Now = Annotated[datetime, Depends(now)]
CommandType = Literal[
    "START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"
]
Id39 = Annotated[str, Field(min_length=1, max_length=39)]


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: CommandType
    partner: str | None = Field(None, description="the CPO partner; found from the location if absent")
    country_code: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    party_id: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    location_id: Id39 | None = None
    evse_uid: Id39 | None = None
    connector_id: Id39 | None = None
    session_id: Id39 | None = Field(None, description="STOP_SESSION")
    reservation_id: Id39 | None = Field(None, description="RESERVE_NOW, CANCEL_RESERVATION")
    expiry_date: datetime | None = Field(None, description="RESERVE_NOW")
    token_uid: Id39 | None = Field(None, description="START_SESSION, RESERVE_NOW: one of our tokens")
    token_type: str = "RFID"
    authorization_reference: Id39 | None = None


class CommandOut(BaseModel):
    id: int
    type: str
    partner: str
    country_code: str
    party_id: str
    ocpi_version: str
    state: str = Field(description="REQUESTED, ACCEPTED, REFUSED, FAILED, COMPLETED or TIMEOUT")
    response: str | None = Field(description="the CPO's CommandResponseType")
    result: str | None = Field(description="the Charge Point's CommandResultType")
    message: str | None
    token_uid: str | None
    location_id: str | None
    evse_uid: str | None
    connector_id: str | None
    session_id: str | None
    reservation_id: str | None
    authorization_reference: str | None
    created_at: str
    responded_at: str | None
    result_at: str | None
    deadline: str | None


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["commands"])

    @router.post("/commands", status_code=201, response_model=CommandOut, responses=NOT_FOUND)
    async def send_command(spec: CommandIn, at: Now, run: Run) -> Any:
        """Send a command; 404 for an unknown location, session, reservation or token, 409 when
        the partner cannot take it, 422 when the command lacks what its type needs."""
        if at.tzinfo is None:  # pragma: no cover - the service clock is aware
            raise HTTPException(500, "naive clock")
        expiry = spec.expiry_date
        if expiry is not None and expiry.tzinfo is None:
            raise invalid("expiry_date needs a timezone", loc=("body", "expiry_date"))
        request = CommandRequest(
            kind=spec.type,
            location_id=spec.location_id,
            evse_uid=spec.evse_uid,
            connector_id=spec.connector_id,
            session_id=spec.session_id,
            reservation_id=spec.reservation_id,
            expiry_date=expiry,
            authorization_reference=spec.authorization_reference,
        )
        party = (
            PartyRef(spec.country_code.upper(), spec.party_id.upper())
            if spec.country_code and spec.party_id
            else None
        )

        def work() -> dict[str, Any]:
            try:
                return core.send_command(
                    request, now=at, token_uid=spec.token_uid, token_type=spec.token_type,
                    partner_id=spec.partner, party=party,
                )  # fmt: skip
            except CommandRefused as exc:
                raise HTTPException(exc.status, str(exc)) from None

        return await run(work)

    @router.get("/commands/{command_id}", response_model=CommandOut, responses=NOT_FOUND)
    async def get_command(command_id: int, run: Run) -> Any:
        found = await run(lambda: core.command(command_id))
        if found is None:
            raise not_found(f"command {command_id}")
        return found

    return router

"""OCPI 2.1.1 mod_commands objects.

Differences from 2.2.1 (the 2.1.1 tables): no CANCEL_RESERVATION; the CommandResponse is only
`{result}` (no timeout: the eMSP's own default applies) and the asynchronous POST on the
`response_url` carries a CommandResponse too, whose CommandResponseType includes TIMEOUT; ids are
`string(39)` (location, EVSE) and `string(36)` (connector, session); `reservation_id` is an int;
there is no `authorization_reference` and StartSession names no connector.
"""

from __future__ import annotations

from typing import Any, Literal

from emsp.model import CommandRequest
from emsp.ocpi.adapter import Doc
from emsp.ocpi.errors import invalid
from emsp.ocpi.ids import whole_number
from emsp.ocpi.v211.schemas import Id, LongId
from emsp.ocpi.v221.schemas import _Open
from emsp.ocpi.v221.types import Int, Url
from emsp.ocpi.validation import validate
from emsp.timeutil import format_utc

COMMANDS: tuple[str, ...] = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR")
ResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION"]


class CommandResponse(_Open):
    result: ResponseType


class _Command(_Open):
    response_url: Url


class StartSession(_Command):
    token: dict[str, Any]
    location_id: LongId
    evse_uid: LongId | None = None


class StopSession(_Command):
    session_id: Id


class ReserveNow(_Command):
    token: dict[str, Any]
    expiry_date: str
    reservation_id: Int
    location_id: LongId
    evse_uid: LongId | None = None


class UnlockConnector(_Command):
    location_id: LongId
    evse_uid: LongId
    connector_id: Id


_MODELS: dict[str, type[_Command]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "RESERVE_NOW": ReserveNow,
    "UNLOCK_CONNECTOR": UnlockConnector,
}


def command_body(request: CommandRequest, token: Doc | None, response_url: str) -> Doc:
    model = _MODELS.get(request.kind)
    if model is None:
        raise invalid(f"command {request.kind} does not exist in OCPI 2.1.1")
    body: Doc = {"response_url": response_url}
    if request.kind in ("START_SESSION", "RESERVE_NOW"):
        body["token"] = token
    reservation: int | None = None
    if request.reservation_id is not None:
        reservation = whole_number(request.reservation_id)
        if reservation is None:
            raise invalid("a 2.1.1 reservation_id is an int")
    fields: dict[str, Any] = {
        "location_id": request.location_id,
        "evse_uid": request.evse_uid,
        "connector_id": request.connector_id,
        "session_id": request.session_id,
        "reservation_id": reservation,
        "expiry_date": format_utc(request.expiry_date) if request.expiry_date is not None else None,
    }
    for name, value in fields.items():
        if value is not None and name in model.model_fields:
            body[name] = value
    validate(model, body)
    return body


def command_response(data: Any) -> tuple[str, int | None, str | None]:
    return validate(CommandResponse, data).result, None, None


def command_result(body: Any) -> tuple[str, str | None]:
    return validate(CommandResponse, body).result, None

"""OCPI 2.2.1 mod_commands objects (also 2.3.0, whose Commands module has the same objects).

The eMSP is the Sender: it POSTs one of the request objects to `{commands}/{command}` of the CPO
and reads a CommandResponse (result, timeout in seconds, message); the CommandResult (result,
message) comes later as a POST on the `response_url` it gave. Ids are CiString(36) here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from emsp.model import CommandRequest
from emsp.ocpi.adapter import Doc
from emsp.ocpi.errors import invalid
from emsp.ocpi.v221.schemas import DisplayText, _Open
from emsp.ocpi.v221.types import CiString36, Int, Url
from emsp.ocpi.validation import validate
from emsp.timeutil import format_utc

COMMANDS: tuple[str, ...] = (
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
)
ResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
ResultType = Literal[
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
]


class CommandResponse(_Open):
    result: ResponseType
    timeout: Annotated[Int, Field(ge=0)]
    message: list[DisplayText] | None = None


class CommandResult(_Open):
    result: ResultType
    message: list[DisplayText] | None = None


class _Command(_Open):
    response_url: Url


class StartSession(_Command):
    token: dict[str, Any]
    location_id: CiString36
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StopSession(_Command):
    session_id: CiString36


class ReserveNow(_Command):
    token: dict[str, Any]
    expiry_date: str
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class CancelReservation(_Command):
    reservation_id: CiString36


class UnlockConnector(_Command):
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36


_MODELS: dict[str, type[_Command]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation,
    "UNLOCK_CONNECTOR": UnlockConnector,
}


def _text(message: list[DisplayText] | None) -> str | None:
    return message[0].text if message else None


def command_body(request: CommandRequest, token: Doc | None, response_url: str) -> Doc:
    """The request object of `request.kind`, checked against this version's table (2001 if not)."""
    model = _MODELS.get(request.kind)
    if model is None:
        raise invalid(f"command {request.kind} does not exist in this OCPI version")
    body: Doc = {"response_url": response_url}
    if request.kind in ("START_SESSION", "RESERVE_NOW"):
        body["token"] = token
    fields = {
        "location_id": request.location_id,
        "evse_uid": request.evse_uid,
        "connector_id": request.connector_id,
        "session_id": request.session_id,
        "reservation_id": request.reservation_id,
        "authorization_reference": request.authorization_reference,
        "expiry_date": format_utc(request.expiry_date) if request.expiry_date is not None else None,
    }
    for name, value in fields.items():
        if value is not None and name in model.model_fields:
            body[name] = value
    validate(model, body)
    return body


def command_response(data: Any) -> tuple[str, int | None, str | None]:
    model = validate(CommandResponse, data)
    return model.result, model.timeout, _text(model.message)


def command_result(body: Any) -> tuple[str, str | None]:
    model = validate(CommandResult, body)
    return model.result, _text(model.message)

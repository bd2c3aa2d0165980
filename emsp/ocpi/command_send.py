"""The eMSP as Sender of OCPI Commands (mod_commands), in each partner's version (its adapter).

A command is stored (CommandRow, state REQUESTED) and POSTed to `{commands}/{command}` of the
partner holding the Location (or Session); its `response_url` is ours,
`{base}/{version}/commands/{command}/{id}`, unique per command. The CommandResponse makes it
ACCEPTED (a CommandResult is awaited until the response's timeout, or our default where the
version has none) or REFUSED (REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION); no usable answer makes it
FAILED. The CommandResult POSTed on the response_url makes it COMPLETED. A command still REQUESTED
or ACCEPTED at its deadline becomes TIMEOUT (`expire`, driven by the runtime's clock, simulated
in `sim`); a result that comes after that is kept, the state stays TIMEOUT.

The request goes through `services.queue_outbound` like every other call to a partner (token_push),
over the channel `emsp.ocpi.channels` resolves for the CPO party (as token pushes and pulls do): a
bilateral partner holding it, else the hub that routes to it, with routing headers naming the party;
a party its hub reports unreachable is not sent a command. Through a hub the CPO posts the
CommandResult to the hub, which forwards it to our response_url: it comes from the hub partner,
its OCPI-from-* headers naming the party, which must be the command's (`on_result`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.model import COMMAND_TYPES, CommandRecord, CommandRequest, PartyRef
from emsp.ocpi.channels import Channel, resolve
from emsp.ocpi.context import Services
from emsp.ocpi.endpoints import RECEIVER, stored_url
from emsp.ocpi.errors import OcpiError, not_found
from emsp.ocpi.ids import whole_number
from emsp.ocpi.urls import refusal
from emsp.ocpi.versions import adapter_for
from emsp.storage.queries import find_token
from emsp.storage.tables import PARTY_OBJECT_KEYS, CommandRow, LocationRow, PartnerRow, SessionRow, same_id
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps, loads

PURPOSE = "command:"  # + the command id
DEFAULT_TIMEOUT = timedelta(minutes=3)  # a version without CommandResponse.timeout (2.1.1)
RESPONSE_TIMEOUT = timedelta(seconds=120)  # no CommandResponse at all within this: TIMEOUT


class CommandRefused(ValueError):
    """A command that cannot be sent (unknown location, session or token, no commands endpoint,
    a type the partner's version lacks). `status`: the HTTP status the contract API answers."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Target:
    partner: PartnerRow
    party: PartyRef


def _target(db: Session, request: CommandRequest, partner_id: str | None, party: PartyRef | None) -> Target:
    """The partner (and CPO party) holding the command's Location, or Session for STOP_SESSION."""
    query: Any
    if request.kind in ("STOP_SESSION",):
        query = select(SessionRow).where(PARTY_OBJECT_KEYS["sessions"] == same_id(request.session_id))
        model: Any = SessionRow
        what = f"session {request.session_id!r}"
    elif request.kind == "CANCEL_RESERVATION":
        row = _reservation(db, request.reservation_id, partner_id)
        partner = db.get(PartnerRow, row.partner)
        assert partner is not None
        return Target(partner, PartyRef(row.country_code, row.party_id))
    else:
        query = select(LocationRow).where(PARTY_OBJECT_KEYS["locations"] == same_id(request.location_id))
        model = LocationRow
        what = f"location {request.location_id!r}"
    if partner_id is not None:
        query = query.where(model.partner == partner_id)
    if party is not None:
        query = query.where(model.country_code == party.country_code, model.party_id == party.party_id)
    rows = db.scalars(query.order_by(model.pk)).all()
    if not rows:
        raise CommandRefused(f"no {what} is known", 404)
    if len({(r.partner, r.country_code, r.party_id) for r in rows}) > 1:
        raise CommandRefused(f"{what} is known from several parties: name the partner and party", 409)
    found = rows[0]
    partner = db.get(PartnerRow, found.partner)
    if partner is None or not partner.registered:
        raise CommandRefused(f"partner {found.partner!r} is not registered", 409)
    return Target(partner, PartyRef(found.country_code, found.party_id))


def _channel(db: Session, target: Target) -> Channel:
    """The channel to the command's CPO party (emsp.ocpi.channels); the partner holding the object
    when no configuration or HubClientInfo names one. CommandRefused when the hub says the party is
    not reachable (mod_hub_client_info: only a CONNECTED party can be called)."""
    cc, pid = target.party.country_code, target.party.party_id
    channel = resolve(db, cc, pid)
    if channel is None:
        return Channel(target.partner.partner_id, target.partner.hub, (cc.upper(), pid.upper()), None)
    if not channel.callable:
        raise CommandRefused(
            f"party {cc}/{pid} is {channel.status} at hub {channel.partner_id!r}: it cannot be reached", 409
        )
    return channel


def _reservation(db: Session, reservation_id: str | None, partner_id: str | None) -> CommandRow:
    query = select(CommandRow).where(
        CommandRow.kind == "RESERVE_NOW", CommandRow.reservation_id == reservation_id
    )
    if partner_id is not None:
        query = query.where(CommandRow.partner == partner_id)
    row = db.scalars(query.order_by(CommandRow.pk.desc())).first()
    if row is None:
        raise CommandRefused(f"no reservation {reservation_id!r} was made", 404)
    return row


def _required(request: CommandRequest) -> None:
    needs = {
        "START_SESSION": ("location_id",),
        "STOP_SESSION": ("session_id",),
        "RESERVE_NOW": ("location_id", "reservation_id", "expiry_date"),
        "CANCEL_RESERVATION": ("reservation_id",),
        "UNLOCK_CONNECTOR": ("location_id", "evse_uid", "connector_id"),
    }[request.kind]
    missing = [name for name in needs if getattr(request, name) is None]
    if missing:
        raise CommandRefused(f"{request.kind} needs {', '.join(missing)}")


def send(
    services: Services,
    db: Session,
    request: CommandRequest,
    now: datetime,
    *,
    token_uid: str | None = None,
    token_type: str = "RFID",
    partner_id: str | None = None,
    party: PartyRef | None = None,
) -> CommandRow:
    """Store a command and queue its POST to the partner; raises CommandRefused (nothing stored)."""
    if request.kind not in COMMAND_TYPES:
        raise CommandRefused(f"unknown command type {request.kind!r}; one of {', '.join(COMMAND_TYPES)}")
    _required(request)
    target = _target(db, request, partner_id, party)
    channel = _channel(db, target)
    partner = target.partner
    if channel.partner_id != partner.partner_id:  # the party is reached through another partner now
        routed = db.get(PartnerRow, channel.partner_id)
        assert routed is not None  # resolve() only names registered partners
        partner = routed
    adapter = adapter_for(partner.version)
    if request.kind not in adapter.commands:
        raise CommandRefused(f"OCPI {adapter.version} (partner {partner.partner_id}) has no {request.kind}")
    url = stored_url(partner, "commands", RECEIVER)
    if url is None or partner.token_b is None:
        raise CommandRefused(f"partner {partner.partner_id!r} offers no commands endpoint", 409)
    why = refusal(url, services.settings.base_url)  # stored before the handshake checked URLs
    if why is not None:
        raise CommandRefused(f"partner {partner.partner_id!r}'s commands endpoint is not used: {why}", 409)
    token_doc = None
    if request.kind in ("START_SESSION", "RESERVE_NOW"):
        if token_uid is None:
            raise CommandRefused(f"{request.kind} needs a token")
        token = find_token(db, token_uid, token_type)
        if token is None:
            raise CommandRefused(f"no token {token_uid!r} of type {token_type} is ours", 404)
        # mod_commands: the Token of a START_SESSION/RESERVE_NOW is authorized by the eMSP first.
        if not token.valid:
            raise CommandRefused(f"token {token_uid!r} is not valid", 409)
        token_doc = adapter.token_object(token, services.settings)
    command_id = services.new_id(db, "command")
    s = services.settings
    response_url = f"{s.base_url.rstrip('/')}/{adapter.version}/commands/{request.kind}/{command_id}"
    try:
        body = adapter.command_body(request, token_doc, response_url)
    except OcpiError as err:
        raise CommandRefused(err.message) from None
    row = CommandRow(
        pk=command_id,
        partner=partner.partner_id,
        country_code=target.party.country_code,
        party_id=target.party.party_id,
        kind=request.kind,
        version=adapter.version,
        state="REQUESTED",
        token_uid=token_uid if token_doc is not None else None,
        token_type=token_type if token_doc is not None else None,
        location_id=request.location_id,
        evse_uid=request.evse_uid,
        connector_id=request.connector_id,
        session_id=request.session_id,
        reservation_id=request.reservation_id,
        authorization_reference=request.authorization_reference,
        request_json=dumps(body),
        created_at=now,
        deadline=now + RESPONSE_TIMEOUT,
    )
    db.add(row)
    headers = {
        "Authorization": adapter.encode_authorization(partner.token_b),
        "Content-Type": "application/json",
    }
    if adapter.routing_headers or channel.hub:
        headers |= channel.headers(s)
    target_url = f"{url.rstrip('/')}/{request.kind}"
    outbound = HttpRequest("POST", target_url, headers, dumps(body))
    services.queue_outbound(db, partner.partner_id, outbound, f"{PURPOSE}{command_id}")
    return row


def on_response(db: Session, command_id: int, response: HttpResponse, now: datetime) -> CommandRow | None:
    """The CPO's answer to our POST: its CommandResponse decides ACCEPTED or REFUSED."""
    row = db.get(CommandRow, command_id)
    if row is None or row.response is not None:
        return row
    if row.state != "REQUESTED":
        # The CommandResult overtook its CommandResponse (another connection), or we gave up
        # waiting: the answer is kept, the state stays.
        row.responded_at = now
        row.response = _response_of(row.version, response)
        return row
    row.responded_at = now
    data: Any = None
    try:
        envelope = loads(response.body or "")
    except ValueError:
        envelope = None
    ok = 200 <= response.status < 300 and isinstance(envelope, dict) and envelope.get("status_code") == 1000
    if ok:
        data = envelope.get("data") if isinstance(envelope, dict) else None
        try:
            result, timeout, message = adapter_for(row.version).command_response(data)
        except OcpiError as err:
            row.state, row.message, row.deadline = "FAILED", f"invalid CommandResponse: {err.message}", None
            return row
        row.response, row.message = result, message
        if result == "ACCEPTED":
            row.state = "ACCEPTED"
            row.deadline = now + (timedelta(seconds=timeout) if timeout else DEFAULT_TIMEOUT)
        else:
            row.state, row.deadline = "REFUSED", None
        return row
    code = envelope.get("status_code") if isinstance(envelope, dict) else None
    row.state, row.deadline = "FAILED", None
    row.message = f"HTTP {response.status}" + (f", OCPI {code}" if code is not None else "")
    return row


def _response_of(version: str, response: HttpResponse) -> str | None:
    try:
        envelope = loads(response.body or "")
        if 200 <= response.status < 300 and envelope.get("status_code") == 1000:
            return adapter_for(version).command_response(envelope.get("data"))[0]
    except (ValueError, AttributeError, OcpiError):
        pass
    return None


def on_result(
    db: Session,
    partner_id: str,
    kind: str,
    command_id: str,
    body: Any,
    now: datetime,
    sender: tuple[str, str] | None = None,
) -> tuple[CommandRow, str | None]:
    """A CommandResult POSTed on a response_url of ours (OcpiError when it is not one we gave):
    the command's row, and the result that was ignored (None: taken, or the same again).

    `sender`: the party the request's OCPI-from-* headers name (None: not given). Behind a hub
    every party posts as the hub's partner; the headers name the party that sent the message
    (transport_and_format, message routing headers), so a result from another party than the
    command's is no answer to it: refused like an unknown command, nothing changed.

    mod_commands (2.2.1, 2.3.0; 2.1.1's CommandResponse on the response_url alike): the
    CommandResult is the outcome of one command request, sent once to the response_url made for it.
    The first one is final: drivers and the API may already have acted on it. The same result again
    (a retried POST) is answered 1000 and changes nothing; a different one is answered 1000 too
    (the sender cannot do better by retrying) but not taken, and the caller records it."""
    pk = whole_number(command_id)  # anything else is no id we gave: 404, never a server error
    row = db.get(CommandRow, pk) if pk is not None else None
    if row is None or row.partner != partner_id or row.kind != kind or not _from_party(row, sender):
        raise not_found("unknown command")
    result, message = adapter_for(row.version).command_result(body)
    if row.result is not None:
        return row, (None if result == row.result else result)
    row.result, row.result_at = result, now
    if message is not None:
        row.message = message
    if row.state in ("REQUESTED", "ACCEPTED", "COMPLETED"):
        row.state, row.deadline = "COMPLETED", None
    return row, None


def _from_party(row: CommandRow, sender: tuple[str, str] | None) -> bool:
    if sender is None:
        return True
    return (sender[0].upper(), sender[1].upper()) == (row.country_code.upper(), row.party_id.upper())


def expire(db: Session, now: datetime) -> list[CommandRow]:
    """Every command past its deadline without a CommandResponse or CommandResult: TIMEOUT."""
    rows = db.scalars(
        select(CommandRow)
        .where(CommandRow.deadline.is_not(None), CommandRow.deadline <= now)
        .where(CommandRow.state.in_(("REQUESTED", "ACCEPTED")))
        .order_by(CommandRow.pk)
    ).all()
    for row in rows:
        row.state, row.deadline = "TIMEOUT", None
    return list(rows)


def deadlines(db: Session) -> dict[int, datetime]:
    """Command id -> deadline of every command still awaiting its response or result."""
    rows = db.execute(
        select(CommandRow.pk, CommandRow.deadline).where(
            CommandRow.deadline.is_not(None), CommandRow.state.in_(("REQUESTED", "ACCEPTED"))
        )
    ).all()
    return {pk: deadline for pk, deadline in rows if deadline is not None}


def record(row: CommandRow) -> CommandRecord:
    return CommandRecord(
        command_id=row.pk,
        partner=row.partner,
        party=PartyRef(row.country_code, row.party_id),
        kind=row.kind,
        state=row.state,
        response=row.response,
        result=row.result,
        token_uid=row.token_uid,
        location_id=row.location_id,
        evse_uid=row.evse_uid,
        session_id=row.session_id,
        created_at=row.created_at,
        deadline=row.deadline,
        result_at=row.result_at,
    )


def view(row: CommandRow) -> dict[str, Any]:
    """The command as the contract API shows it."""

    def at(moment: datetime | None) -> str | None:
        return format_utc(moment) if moment is not None else None

    return {
        "id": row.pk,
        "type": row.kind,
        "partner": row.partner,
        "country_code": row.country_code,
        "party_id": row.party_id,
        "ocpi_version": row.version,
        "state": row.state,
        "response": row.response,
        "result": row.result,
        "message": row.message,
        "token_uid": row.token_uid,
        "location_id": row.location_id,
        "evse_uid": row.evse_uid,
        "connector_id": row.connector_id,
        "session_id": row.session_id,
        "reservation_id": row.reservation_id,
        "authorization_reference": row.authorization_reference,
        "created_at": at(row.created_at),
        "responded_at": at(row.responded_at),
        "result_at": at(row.result_at),
        "deadline": at(row.deadline),
    }

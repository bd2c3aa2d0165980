"""Calls to partners that survive a restart of the eMSP (design principle 8: a crash loses nothing).

Most outbound calls are cheap to lose: a pull is redone, a handshake restarted, a command times
out. A Token push is not: the CPO would keep authorizing a blocked token from its cache until it
happens to re-read our Sender interface. Such a call is stored in the transaction that queued it
(so it exists exactly when the change it tells was committed), deleted once its answer has been
handled, and queued again by the next core that starts on the database. A crash between sending
and handling the answer sends it once more: a PUT of the token's state, so the repeat is harmless.

The Authorization header is not stored: it is built from the partner's credentials as they are
when the call is (re-)sent (`authorized`), so a call queued before the partner's credentials
changed (a credentials PUT, a new registration) carries the token that opens its platform now.
A call to a partner that is no longer registered is not sent (it would be refused).

One process per database sends them: several eMSP processes on one PostgreSQL database would each
queue the calls the others left (and the live ones have in flight) when they start. While it runs,
that process re-sends one that met a transient failure (emsp.call_retries).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from emsp.ocpi.versions import adapter_for
from emsp.storage.tables import PartnerRow, PendingCallRow
from emsp.wire import HttpRequest, OutboundRequest, dumps, loads

AUTHORIZATION = "Authorization"


def remember(db: Session, call: OutboundRequest, purpose: str) -> None:
    request = call.request
    db.add(
        PendingCallRow(
            request_id=call.request_id,
            partner=call.partner,
            purpose=purpose,
            method=request.method,
            url=request.url,
            # Without the credentials: `authorized` adds the current ones at each send.
            headers_json=dumps({k: v for k, v in request.headers.items() if k.lower() != "authorization"}),
            body=request.body,
        )
    )


def forget(db: Session, request_id: str) -> None:
    db.execute(delete(PendingCallRow).where(PendingCallRow.request_id == request_id))


def authorized(db: Session, call: OutboundRequest) -> OutboundRequest | None:
    """`call` with the Authorization its partner's current credentials give (the token B it gave
    us, encoded as its OCPI version wants); None when the partner is no longer registered."""
    partner = db.get(PartnerRow, call.partner)
    if partner is None or not partner.registered or partner.token_b is None:
        return None
    headers = {k: v for k, v in call.request.headers.items() if k.lower() != "authorization"}
    headers = {AUTHORIZATION: adapter_for(partner.version).encode_authorization(partner.token_b), **headers}
    request = call.request
    return OutboundRequest(
        call.request_id, call.partner, HttpRequest(request.method, request.url, headers, request.body)
    )


def left_over(db: Session) -> list[tuple[OutboundRequest, str]]:
    """The calls a previous process queued and never saw answered, in the order it queued them,
    without Authorization (`authorized` adds it; rows of older versions kept theirs: dropped)."""
    rows = db.scalars(select(PendingCallRow).order_by(PendingCallRow.seq)).all()
    return [
        (
            OutboundRequest(
                row.request_id,
                row.partner,
                HttpRequest(
                    row.method,
                    row.url,
                    {
                        str(k): str(v)
                        for k, v in loads(row.headers_json).items()
                        if str(k).lower() != "authorization"
                    },
                    row.body,
                ),
            ),
            row.purpose,
        )
        for row in rows
    ]

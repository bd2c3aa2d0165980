"""Calls to partners that survive a restart of the eMSP (design principle 8: a crash loses nothing).

Most outbound calls are cheap to lose: a pull is redone, a handshake restarted, a command times
out. A Token push is not: the CPO would keep authorizing a blocked token from its cache until it
happens to re-read our Sender interface. Such a call is stored in the transaction that queued it
(so it exists exactly when the change it tells was committed), deleted once its answer has been
handled, and queued again by the next core that starts on the database. A crash between sending
and handling the answer sends it once more: a PUT of the token's state, so the repeat is harmless.

One process per database sends them: several eMSP processes on one PostgreSQL database would each
queue the calls the others left (and the live ones have in flight) when they start.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from emsp.storage.tables import PendingCallRow
from emsp.wire import HttpRequest, OutboundRequest, dumps, loads


def remember(db: Session, call: OutboundRequest, purpose: str) -> None:
    request = call.request
    db.add(
        PendingCallRow(
            request_id=call.request_id,
            partner=call.partner,
            purpose=purpose,
            method=request.method,
            url=request.url,
            headers_json=dumps(dict(request.headers)),
            body=request.body,
        )
    )


def forget(db: Session, request_id: str) -> None:
    db.execute(delete(PendingCallRow).where(PendingCallRow.request_id == request_id))


def left_over(db: Session) -> list[tuple[OutboundRequest, str]]:
    """The calls a previous process queued and never saw answered, in the order it queued them."""
    rows = db.scalars(select(PendingCallRow).order_by(PendingCallRow.seq)).all()
    return [
        (
            OutboundRequest(
                row.request_id,
                row.partner,
                HttpRequest(
                    row.method,
                    row.url,
                    {str(k): str(v) for k, v in loads(row.headers_json).items()},
                    row.body,
                ),
            ),
            row.purpose,
        )
        for row in rows
    ]

"""The outbox's statements, built once (see `emsp.storage.queries` for why).

The drain runs after every request: building its claim query per call (an aliased table, a
correlated subquery, column proxies) cost more than running it, so every statement here is built at
import and only its parameters change. Rows travel as plain tuples: the drain reads a few columns
and writes four back, which the ORM's identity map and flush would only slow down.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update

from emsp.storage.direct import DirectStatement
from emsp.storage.tables import OutboxRow, ProcessedEventRow

_outbox = cast(Table, OutboxRow.__table__)
_earlier = _outbox.alias("earlier")

INSERT_ROW = insert(_outbox)  # one row: its seq is the inserted primary key (the drain acks by seq)
INSERT_ROW_DIRECT = DirectStatement(INSERT_ROW, writes=True)  # an event per PATCH: on the cursor
INSERT_KEY = insert(cast(Table, ProcessedEventRow.__table__))
INSERT_KEY_DIRECT = DirectStatement(INSERT_KEY, writes=True)  # before every handler run


class ClaimedRow(NamedTuple):
    """What the drain (and its error callbacks) know of one pending row."""

    seq: int
    kind: str
    partner: str
    ordering_key: str
    idempotency_key: str
    payload: str
    attempts: int
    last_error: str | None


_CLAIMED = (
    _outbox.c.seq,
    _outbox.c.kind,
    _outbox.c.partner,
    _outbox.c.ordering_key,
    _outbox.c.idempotency_key,
    _outbox.c.payload,
    _outbox.c.attempts,
    _outbox.c.last_error,
)
# A row is due when it is pending, its retry time (if any) has come, and no earlier row of its
# ordering key is still pending (per-session order).
_blocked = (
    select(_earlier.c.seq)
    .where(
        _earlier.c.ordering_key == _outbox.c.ordering_key,
        _earlier.c.state == "pending",
        _earlier.c.seq < _outbox.c.seq,
    )
    .exists()
)
CLAIM = (
    select(*_CLAIMED)
    .where(
        _outbox.c.state == "pending",
        or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= bindparam("now")),
        ~_blocked,
    )
    .order_by(_outbox.c.seq)
    .limit(bindparam("size"))
)
# PostgreSQL: two workers never take the same row; a dead worker's locks go with its connection.
CLAIM_LOCKED = CLAIM.with_for_update(skip_locked=True, of=_outbox)

# The outcome of processing, one parameter set per row (executemany).
SETTLE = (
    update(_outbox)
    .where(_outbox.c.seq == bindparam("row_seq"))
    .values(
        state=bindparam("state"),
        attempts=bindparam("attempts"),
        last_error=bindparam("last_error"),
        next_attempt_at=bindparam("next_attempt_at"),
    )
)
SETTLE_DIRECT = DirectStatement(SETTLE)  # after every batch
ANY_PENDING = select(_outbox.c.seq).where(_outbox.c.state == "pending").limit(1)

"""Which canonical driver a CDR or session belongs to.

Billing asks only this module. Today a driver is found by the eMA id (OCPI `contract_id`) their tokens
carry; federated identity (a token per CPO/hub relationship) extends `driver_for` with its own mapping
from a partner's token to `drivers.driver_id`, and billing follows without change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from emsp.storage.direct import DirectStatement
from emsp.storage.tables import DriverRow, TokenRow, token_key, upper_token_uid

# Built once (every CDR asks): only the parameters change per call (see emsp.storage.queries).
# Only the columns deciding the answer are read (directly on SQLite, emsp.storage.direct): most
# CDRs are of no driver of ours, and the driver row itself is then loaded by its key, which is
# the very row the former whole-row queries' first result was.
_tokens: Any = TokenRow.__table__
_drivers: Any = DriverRow.__table__
_federated = (
    select(_tokens.c.partner, _tokens.c.driver_id)
    .where(upper_token_uid == bindparam("key"), _tokens.c.driver_id.is_not(None))  # any case: CiString
    .order_by(_tokens.c.pk)
)
_by_emaid = (
    select(_drivers.c.driver_id).where(_drivers.c.emaid == bindparam("emaid")).order_by(_drivers.c.driver_id)
)
_federated_direct = DirectStatement(_federated)
_by_emaid_direct = DirectStatement(_by_emaid)


def _first(db: Session, direct: DirectStatement, statement: Any, params: dict[str, str]) -> Any:
    if db.autoflush:
        db.flush()  # what the ORM query flushed first (a no-op check when nothing is pending)
    rows = direct.rows(db, params)
    if rows is None:
        return db.connection().execute(statement, params).first()
    return rows[0] if rows else None


def driver_for(db: Session, *, token_uid: str, contract_id: str, partner: str = "") -> DriverRow | None:
    """The driver holding this token (`partner`: who sent the object), or None: not one of ours.

    A federated token (emsp.services.identity) names its driver itself; it is that driver's only
    through the partner it was issued for. Other tokens are resolved by their eMA id."""
    federated = _first(db, _federated_direct, _federated, {"key": token_key(token_uid)})
    if federated is not None:
        token_partner, driver_id = federated
        if partner and token_partner is not None and token_partner != partner:
            return None
        return db.get(DriverRow, driver_id)
    if not contract_id:
        return None
    found = _first(db, _by_emaid_direct, _by_emaid, {"emaid": contract_id})
    return None if found is None else db.get(DriverRow, found[0])

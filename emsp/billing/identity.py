"""Which canonical driver a CDR or session belongs to.

Billing asks only this module. Today a driver is found by the eMA id (OCPI `contract_id`) their tokens
carry; federated identity (a token per CPO/hub relationship) extends `driver_for` with its own mapping
from a partner's token to `drivers.driver_id`, and billing follows without change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.storage.tables import DriverRow


def driver_for(db: Session, *, token_uid: str, contract_id: str, partner: str = "") -> DriverRow | None:
    """The driver holding this token (`partner`: who sent the object), or None: not one of ours."""
    del token_uid, partner  # identity resolves by token and partner; the eMA id is enough here
    if not contract_id:
        return None
    query = select(DriverRow).where(DriverRow.emaid == contract_id).order_by(DriverRow.driver_id)
    return db.scalars(query).first()

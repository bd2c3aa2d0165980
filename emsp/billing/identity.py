"""Which canonical driver a CDR or session belongs to.

Billing asks only this module. Today a driver is found by the eMA id (OCPI `contract_id`) their tokens
carry; federated identity (a token per CPO/hub relationship) extends `driver_for` with its own mapping
from a partner's token to `drivers.driver_id`, and billing follows without change.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from emsp.storage.tables import DriverRow, TokenRow

# Built once (every CDR asks): only the parameters change per call (see emsp.storage.queries).
_federated = (
    select(TokenRow)
    .where(TokenRow.uid == bindparam("uid"), TokenRow.driver_id.is_not(None))
    .order_by(TokenRow.pk)
)
_by_emaid = select(DriverRow).where(DriverRow.emaid == bindparam("emaid")).order_by(DriverRow.driver_id)


def driver_for(db: Session, *, token_uid: str, contract_id: str, partner: str = "") -> DriverRow | None:
    """The driver holding this token (`partner`: who sent the object), or None: not one of ours.

    A federated token (emsp.services.identity) names its driver itself; it is that driver's only
    through the partner it was issued for. Other tokens are resolved by their eMA id."""
    federated = db.scalars(_federated, {"uid": token_uid}).first()
    if federated is not None:
        if partner and federated.partner is not None and federated.partner != partner:
            return None
        return db.get(DriverRow, federated.driver_id)
    if not contract_id:
        return None
    return db.scalars(_by_emaid, {"emaid": contract_id}).first()

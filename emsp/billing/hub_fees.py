"""A hub's fee per session as a cost line of every session that came through it.

The operator's contract with a hub (`set_hub_fee`, HubFeeRow) says what the hub charges per session
it routes; each retail line of a session whose channel is that hub then carries a `hub_fee` cost
line beside the CPO's wholesale cost, so the margin per channel is retail - wholesale - hub fees.
A reversal negates it with the rest of the line's costs (ledger), so a credited and rebilled session
bears the fee once. A fee in another currency than the session's stays a cost line of its own
(never added into `wholesale_excl`, which is in the line's currency).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from emsp.billing.ledger import CostLine, register_cost_lines
from emsp.settlement.facts import CdrFacts, LineFacts
from emsp.storage.tables import HubFeeRow

BILATERAL = "bilateral"


def set_hub_fee(db: Session, partner: str, amount: Decimal, currency: str) -> None:
    """Configure (or change) what hub `partner` charges per session routed through it."""
    if amount < 0:
        raise ValueError(f"a hub fee cannot be negative: {amount}")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValueError(f"currency must be an ISO 4217 code, not {currency!r}")
    row = db.get(HubFeeRow, partner)
    if row is None:
        db.add(HubFeeRow(partner=partner, amount=amount, currency=currency))
    else:
        row.amount, row.currency = amount, currency
    db.flush()


def hub_fee_lines(db: Session, cdr: CdrFacts, line: LineFacts, channel: str) -> list[CostLine]:
    """The cost source (ledger.register_cost_lines): the fee of the hub the session came through."""
    if channel == BILATERAL:
        return []
    fee = db.get(HubFeeRow, channel)
    if fee is None:
        return []  # a hub without a fee in its contract
    return [CostLine("hub_fee", channel, fee.amount, fee.currency, "per session routed through the hub")]


register_cost_lines(hub_fee_lines)

"""What the spec rules out in an accepted CDR's money and token, said as findings (emsp.findings).

Each is kept, never refused: a CDR cannot be changed once sent (mod_cdrs, only a Credit CDR can
undo it), so a 2001 would leave the CPO re-POSTing it or dropping it, and the eMSP without the
record it must dispute. Stored and billed as received, the finding is what the operator disputes.

- Price (2.2.1/2.3.0 types, Price; 2.1.1 has plain decimals): incl_vat is excl_vat plus VAT, so
  it is never below excl_vat (above it for a Credit CDR's negative total_cost); the cost components
  (total_energy_cost, ...) are parts of total_cost, so none exceeds it.
- credit_reference_id (mod_cdrs CDR, 2.2.1/2.3.0) is the id of the CDR credited: one the party
  never sent us leaves nothing to reverse, and the credit's negative line would lower the partner's
  wholesale total by a charge never billed here.
- cdr_token.country_code/party_id (2.2.1/2.3.0 CdrToken) name the eMSP that issued the token, and
  a CDR or Session goes to the token's eMSP (mod_cdrs, mod_sessions): one for another eMSP's
  token that we never issued is someone else's cost, misrouted here (by the CPO or a hub).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emsp.model import PartyRef
from emsp.ocpi.context import Ctx
from emsp.storage.queries import find_cdr, find_token

COST_PARTS = (
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_fixed_cost",
    "total_reservation_cost",
)


def _amounts(price: Any) -> tuple[Decimal, Decimal | None] | None:
    """(excl_vat, incl_vat) of a canonical Price; None when it is none (validated before)."""
    if not isinstance(price, dict) or not isinstance(price.get("excl_vat"), int | Decimal):
        return None
    incl = price.get("incl_vat")
    return Decimal(price["excl_vat"]), Decimal(incl) if isinstance(incl, int | Decimal) else None


def price_problems(doc: dict[str, Any], credit: bool) -> list[str]:
    """What the CDR's Prices say that no Price can: VAT of the wrong sign, a part above the total."""
    problems = []
    for name in ("total_cost", *COST_PARTS):
        # A Credit CDR repeats its original's data; only its total_cost is negative (mod_cdrs,
        # Credit CDRs), so that one Price is compared by size.
        sign = -1 if credit and name == "total_cost" else 1
        amounts = _amounts(doc.get(name))
        if amounts is not None and amounts[1] is not None and sign * (amounts[1] - amounts[0]) < 0:
            problems.append(f"{name} incl_vat {amounts[1]} below excl_vat {amounts[0]} (negative VAT)")
    total = _amounts(doc.get("total_cost"))
    for name in COST_PARTS:
        part = _amounts(doc.get(name))
        if total is not None and part is not None and abs(part[0]) > abs(total[0]):
            problems.append(f"{name} excl_vat {part[0]} above total_cost excl_vat {total[0]}")
    return problems


def note_cdr_money(ctx: Ctx, party: PartyRef, cdr_id: str, doc: dict[str, Any], credit: bool) -> None:
    problems = price_problems(doc, credit)
    if problems:
        ctx.note("cdr_totals_mismatch", f"CDR {cdr_id}: {'; '.join(problems)}", party=party,
                 module="cdrs", object_id=cdr_id)  # fmt: skip
    reference = doc.get("credit_reference_id")
    if not (credit and isinstance(reference, str) and reference):
        return
    if find_cdr(ctx.db, party.country_code, party.party_id, reference) is None:
        example = f"credit CDR {cdr_id} names credit_reference_id {reference}: no such CDR"
        ctx.note("credit_unknown_cdr", example, party=party, module="cdrs", object_id=cdr_id)


def note_foreign_token(ctx: Ctx, party: PartyRef, module: str, object_id: str, doc: dict[str, Any]) -> None:
    """A Session's or CDR's token that names another eMSP as its issuer and is not ours by uid."""
    token = doc.get("cdr_token")
    if not isinstance(token, dict):
        return
    cc, pid = token.get("country_code"), token.get("party_id")
    if not isinstance(cc, str) or not isinstance(pid, str):
        return  # 2.1.1: the token names no issuer
    settings = ctx.services.settings
    if (cc.upper(), pid.upper()) == (settings.country_code.upper(), settings.party_id.upper()):
        return
    uid, token_type = token.get("uid"), token.get("type")
    ours = isinstance(uid, str) and isinstance(token_type, str) and find_token(ctx.db, uid, token_type)
    if ours:
        return  # our token all the same (the CPO mislabelled its issuer): ours to pay
    example = f"{module} {object_id}: token {uid} issued by {cc}/{pid}, not by this eMSP"
    ctx.note("foreign_token", example, party=party, module=module, object_id=object_id)

"""Retail lines from settled CDRs: charge, reversal (credit CDR), rebill (replacement), fee.

Called after the wholesale line of a CDR is written (`emsp.services.cdrs`), in the same transaction
and idempotently (unique on party + CDR id + kind). A CDR whose driver is not one of our billing
drivers gets no retail line: without accounts and contracts the eMSP bills as before (one
pay-as-you-go wholesale line per CDR).

Lines are never changed after they are written. A credit CDR (`credit: true`, `credit_reference_id`
= the credited CDR) adds a reversal line, the exact negative of the line it cancels; the replacement
CDR of that session adds a rebill line naming the CDR it replaces. A second CDR for a session whose
line was not credited is not billed (the driver would pay twice); reconciliation names it
`rebill_without_credit`, and if the credit arrives later the pending replacement is billed then.

Cost lines: what the session cost the eMSP, as a list, so a channel's fees (a hub fee) join the
wholesale cost without another model: `register_cost_lines` adds a source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.billing.contracts import ZERO, ContractTerms, SessionUsage, cents, retail_charge
from emsp.billing.identity import driver_for
from emsp.billing.jurisdictions import Jurisdiction, country_of, for_country
from emsp.settlement.facts import CdrFacts, LineFacts
from emsp.settlement.fed_back import fed_back_kwh, import_only
from emsp.settlement.tariff import TariffError, parse_tariff, price_cdr
from emsp.storage.queries import find_cdr, location_time_zone
from emsp.storage.tables import (
    AccountRow,
    BillingContractRow,
    CdrRow,
    InvoiceLineRow,
    PartnerRow,
    RetailLineRow,
    same_id,
)
from emsp.wire import dumps, loads

PRICE_TOLERANCE = Decimal("0.005")  # the wholesale check: the CPO's cost within half a cent of ours
LIVE_KINDS = ("charge", "rebill")


@dataclass(frozen=True, slots=True)
class CostLine:
    kind: str  # wholesale | hub_fee | ...
    party: str  # who charges it (country*party or a hub id)
    amount_excl: Decimal
    currency: str
    note: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "party": self.party,
            "amount_excl": str(self.amount_excl),
            "currency": self.currency,
            "note": self.note,
        }


CostSource = Callable[[Session, CdrFacts, LineFacts, str], list[CostLine]]


def _wholesale(db: Session, cdr: CdrFacts, line: LineFacts, channel: str) -> list[CostLine]:
    return [CostLine("wholesale", f"{cdr.country_code}*{cdr.party_id}", cdr.total_cost_excl, cdr.currency)]


COST_SOURCES: list[CostSource] = [_wholesale]


def register_cost_lines(source: CostSource) -> None:
    """Add a source of cost lines per session (e.g. the hub fee of a hub channel)."""
    if source not in COST_SOURCES:
        COST_SOURCES.append(source)


def period_of(at: datetime, time_zone: str) -> str:
    """The billing period (YYYY-MM) of an instant, in the account's time zone."""
    return at.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m")


def channel_of(db: Session, partner: str) -> str:
    row = db.get(PartnerRow, partner)
    return partner if row is not None and row.hub else "bilateral"


def terms_of(contract: BillingContractRow) -> ContractTerms:
    return ContractTerms.model_validate(loads(contract.terms_json))


def _lines(db: Session, *where: Any) -> list[RetailLineRow]:
    return list(db.scalars(select(RetailLineRow).where(*where).order_by(RetailLineRow.line_no)))


def live_line(db: Session, cdr: CdrFacts, *, cdr_id: str | None = None) -> RetailLineRow | None:
    """The charge or rebill still standing for this CDR id (or the CDR's session)."""
    # A CDR id here is the stored CDR's own (a line's cdr_id is written from it); a session id is
    # as each CDR spelled it, a CiString: in any case.
    key = (
        RetailLineRow.cdr_id == cdr_id
        if cdr_id is not None
        else same_id(RetailLineRow.session_id) == same_id(cdr.session_id)
    )
    if cdr_id is None and cdr.session_id is None:
        return None
    candidates = _lines(
        db,
        RetailLineRow.country_code == cdr.country_code,
        RetailLineRow.party_id == cdr.party_id,
        RetailLineRow.kind.in_(LIVE_KINDS),
        key,
    )
    numbers = [line.line_no for line in candidates]
    reversed_ = set(
        db.scalars(
            select(RetailLineRow.reverses_line).where(
                RetailLineRow.kind == "reversal", RetailLineRow.reverses_line.in_(numbers)
            )
        )
    )
    standing = [line for line in candidates if line.line_no not in reversed_]
    return standing[-1] if standing else None


class RetailUnbillable(Exception):
    """A CDR's retail charge cannot be computed: no retail line is written (the session counts as
    `sessions_unbilled`), the CDR's wholesale line stays; the caller logs it (a warning)."""


def _retail_list(terms: ContractTerms, cdr: Mapping[str, Any], tz: str) -> Decimal:
    tariff = parse_tariff(terms.retail.to_ocpi(f"RETAIL-{terms.kind}"))
    if fed_back_kwh(cdr):  # V2G: the retail price, like the wholesale one, is of what was charged
        cdr = import_only(cdr)
    # The contract's price applies to the session's kWh, time and start, which have no currency;
    # the CDR's currency is that of the CPO's cost. So a CDR in DKK is billed at the EUR contract's
    # price, in EUR (it was refused by the engine's currency check and billed 0.00).
    try:
        result = price_cdr(tariff, {**cdr, "currency": terms.retail.currency}, tz=tz)
    except (TariffError, ArithmeticError) as exc:
        raise RetailUnbillable(f"retail pricing failed: {exc}") from exc
    return result.totals.total_cost.excl_vat


def bill_cdr(db: Session, cdr_row: CdrFacts, wholesale: LineFacts, now: datetime) -> list[RetailLineRow]:
    """The retail lines this CDR causes (none for a CDR of no billing driver); idempotent."""
    driver = driver_for(
        db, token_uid=cdr_row.token_uid, contract_id=cdr_row.contract_id, partner=cdr_row.partner
    )
    if driver is None or driver.contract_ref is None:
        return []
    done = _lines(
        db,
        RetailLineRow.country_code == cdr_row.country_code,
        RetailLineRow.party_id == cdr_row.party_id,
        RetailLineRow.cdr_id == cdr_row.cdr_id,
    )
    if done:
        return done
    cdr = loads(cdr_row.raw)
    if cdr_row.credit:
        return _credit(db, cdr_row, cdr, now)
    standing = live_line(db, cdr_row)
    if standing is not None:
        return []  # a second CDR for a billed session: never bill twice (rebill_without_credit)
    replaces = _credited_original(db, cdr_row)
    kind = "rebill" if replaces is not None else "charge"
    return [_charge(db, cdr_row, cdr, wholesale, kind, replaces, now)]


def _credited_original(db: Session, cdr_row: CdrFacts) -> str | None:
    """The CDR id of this session's reversed line, if any (this CDR then replaces it)."""
    if cdr_row.session_id is None:
        return None
    reversals = _lines(
        db,
        RetailLineRow.country_code == cdr_row.country_code,
        RetailLineRow.party_id == cdr_row.party_id,
        same_id(RetailLineRow.session_id) == same_id(cdr_row.session_id),  # any case: CiString
        RetailLineRow.kind == "reversal",
    )
    return reversals[-1].replaces_cdr if reversals else None


def _charge(
    db: Session,
    cdr_row: CdrFacts,
    cdr: Mapping[str, Any],
    wholesale: LineFacts,
    kind: str,
    replaces: str | None,
    now: datetime,
) -> RetailLineRow:
    driver = driver_for(
        db, token_uid=cdr_row.token_uid, contract_id=cdr_row.contract_id, partner=cdr_row.partner
    )
    assert driver is not None and driver.contract_ref is not None
    account = db.get(AccountRow, driver.account_id)
    contract = db.get(BillingContractRow, driver.contract_ref)
    assert account is not None and contract is not None, "driver without account or contract"
    try:
        terms = terms_of(contract)
    except ValueError as exc:  # terms an older version accepted beyond today's bounds
        raise RetailUnbillable(f"contract {contract.contract_ref}: {exc}") from exc
    where = cdr.get("cdr_location") or {}
    jurisdiction = for_country(where.get("country") or cdr_row.country_code)
    zone = location_time_zone(db, cdr_row.country_code, cdr_row.party_id, cdr_row.location_id)
    tz = zone[0] if zone is not None and zone[0] else "UTC"
    period = period_of(cdr_row.start, account.time_zone)
    listed = _retail_list(terms, cdr, tz)
    account_lines = _lines(db, RetailLineRow.account_id == account.account_id, RetailLineRow.period == period)
    used_kwh = sum((line.energy_kwh for line in account_lines if line.kind != "fee"), ZERO)
    reimbursed = sum(
        (
            Decimal(loads(line.detail_json).get("reimbursed_excl", "0"))
            for line in account_lines
            if line.vehicle_id is not None and line.vehicle_id == driver.vehicle_id
        ),
        ZERO,
    )
    try:  # every amount before anything is written: a failure leaves no retail line half made
        charge = retail_charge(terms, SessionUsage(cdr_row.total_energy, listed, used_kwh, reimbursed))
        vat = jurisdiction.vat(charge.excl_vat)
        fee = _fee_amounts(account, terms) if terms.kind == "subscription" else None
    except ArithmeticError as exc:  # beyond Decimal's precision (contract terms of an older database)
        raise RetailUnbillable(f"retail charge failed: {exc!r}") from exc
    currency = terms.retail.currency  # the contract's: the driver's invoice is in it
    detail = dict(charge.detail)
    if fee is not None:
        _fee_line(db, account, contract, fee, period, now)
    fields, missing = jurisdiction.evidence(cdr)
    channel = channel_of(db, cdr_row.partner)
    costs = [c for source in COST_SOURCES for c in source(db, cdr_row, wholesale, channel)]
    unconverted = sorted({c.currency for c in costs if c.currency != currency})
    if unconverted:  # no exchange rate: those costs stay cost lines, outside wholesale_excl and margin
        detail["costs_unconverted"] = ",".join(unconverted)
    verified = wholesale.delta_excl_vat is not None and abs(wholesale.delta_excl_vat) <= PRICE_TOLERANCE
    line = RetailLineRow(
        kind=kind,
        account_id=account.account_id,
        driver_id=driver.driver_id,
        vehicle_id=driver.vehicle_id,
        contract_ref=contract.contract_ref,
        period=period,
        partner=cdr_row.partner,
        channel=channel,
        country_code=cdr_row.country_code,
        party_id=cdr_row.party_id,
        cdr_id=cdr_row.cdr_id,
        session_id=cdr_row.session_id,
        reverses_line=None,
        replaces_cdr=replaces,
        jurisdiction=jurisdiction.country or country_of(where.get("country")),
        currency=currency,
        energy_kwh=cdr_row.total_energy,
        # In the line's currency only: a cost in another (a hub fee in its own) stays in cost_lines.
        wholesale_excl=sum((c.amount_excl for c in costs if c.currency == currency), ZERO),
        wholesale_verified=verified,
        cost_lines_json=dumps([c.to_json() for c in costs]),
        retail_excl=charge.excl_vat,
        vat_rate=jurisdiction.vat_rate if jurisdiction.vat_rate is not None else ZERO,
        vat_amount=vat,
        retail_incl=charge.excl_vat + vat,
        detail_json=dumps(detail),
        evidence_json=dumps({"fields": fields, "missing": missing, "jurisdiction": jurisdiction.label}),
        at=now,
    )
    db.add(line)
    db.flush()
    return line


@dataclass(frozen=True, slots=True)
class _Fee:
    jurisdiction: Jurisdiction
    excl: Decimal
    vat: Decimal


def _fee_amounts(account: AccountRow, terms: ContractTerms) -> _Fee:
    """The monthly fee's amounts (VAT at the account's country rate, if the fee is taxable there)."""
    assert terms.subscription is not None  # validated
    jurisdiction = for_country(account.country)
    excl = cents(terms.subscription.monthly_fee)
    vat = jurisdiction.vat(excl) if jurisdiction.fee_taxable else Decimal("0.00")
    return _Fee(jurisdiction, excl, vat)


def _fee_line(
    db: Session,
    account: AccountRow,
    contract: BillingContractRow,
    fee: _Fee,
    period: str,
    now: datetime,
) -> None:
    """The subscription's monthly fee, once per contract and period (with its first session).

    Found by contract and period, not by its id: a database written before fee ids were whole
    (they were cut at 39 characters, so a long contract_ref lost its period or matched another
    contract's fee) keeps its fees, and none is billed twice."""
    exists = _lines(
        db,
        RetailLineRow.account_id == account.account_id,  # indexed
        RetailLineRow.kind == "fee",
        RetailLineRow.contract_ref == contract.contract_ref,
        RetailLineRow.period == period,
    )
    if exists:
        return
    fee_id = f"FEE-{contract.contract_ref}-{period}"  # at most 48 characters: the column's width
    jurisdiction, excl, vat = fee.jurisdiction, fee.excl, fee.vat
    db.add(
        RetailLineRow(
            kind="fee",
            account_id=account.account_id,
            driver_id=None,
            vehicle_id=None,
            contract_ref=contract.contract_ref,
            period=period,
            partner="",
            channel="",
            country_code="",
            party_id="",
            cdr_id=fee_id,
            session_id=None,
            jurisdiction=jurisdiction.country,
            currency=contract.currency,
            energy_kwh=ZERO,
            wholesale_excl=ZERO,
            wholesale_verified=True,
            cost_lines_json="[]",
            retail_excl=excl,
            vat_rate=jurisdiction.vat_rate if jurisdiction.vat_rate is not None else ZERO,
            vat_amount=vat,
            retail_incl=excl + vat,
            detail_json=dumps({"rule": "monthly_fee"}),
            evidence_json="{}",
            at=now,
        )
    )
    db.flush()


def _credit(db: Session, cdr_row: CdrFacts, cdr: Mapping[str, Any], now: datetime) -> list[RetailLineRow]:
    """Reverse the credited line; then bill the session's replacement if it is already here."""
    reference = cdr.get("credit_reference_id")
    if isinstance(reference, str):  # as the credited CDR's id is stored (a CiString: any case)
        credited = find_cdr(db, cdr_row.country_code, cdr_row.party_id, reference)
        reference = reference if credited is None else credited.cdr_id
    target = live_line(db, cdr_row, cdr_id=reference) if isinstance(reference, str) else None
    note = ""
    if target is None and not isinstance(reference, str):
        target = live_line(db, cdr_row)  # no reference: the session's standing line
        note = "credit CDR without credit_reference_id: matched on its session"
    if target is None:
        # Nothing to reverse. A reference naming no CDR of the party is the `credit_unknown_cdr`
        # finding, raised where the CDR was accepted (emsp.ocpi.modules.cdr_checks) for every credit
        # CDR, billed to a driver or not: not counted again here.
        return []
    detail = {k: _negate(v) for k, v in loads(target.detail_json).items()}
    if note:
        detail["note"] = note
    reversal = RetailLineRow(
        kind="reversal",
        account_id=target.account_id,
        driver_id=target.driver_id,
        vehicle_id=target.vehicle_id,
        contract_ref=target.contract_ref,
        period=target.period,  # corrects the period it belongs to
        partner=cdr_row.partner,
        channel=target.channel,
        country_code=cdr_row.country_code,
        party_id=cdr_row.party_id,
        cdr_id=cdr_row.cdr_id,
        session_id=target.session_id,
        reverses_line=target.line_no,
        replaces_cdr=target.cdr_id,
        jurisdiction=target.jurisdiction,
        currency=target.currency,
        energy_kwh=-target.energy_kwh,
        wholesale_excl=-target.wholesale_excl,
        wholesale_verified=target.wholesale_verified,
        cost_lines_json=dumps(
            [dict(c, amount_excl=str(-Decimal(c["amount_excl"]))) for c in loads(target.cost_lines_json)]
        ),
        retail_excl=-target.retail_excl,
        vat_rate=target.vat_rate,
        vat_amount=-target.vat_amount,
        retail_incl=-target.retail_incl,
        detail_json=dumps(detail),
        evidence_json=target.evidence_json,
        at=now,
    )
    db.add(reversal)
    db.flush()
    out = [reversal]
    if target.session_id is not None:
        pending = db.scalars(
            select(CdrRow)
            .where(
                CdrRow.country_code == cdr_row.country_code,
                CdrRow.party_id == cdr_row.party_id,
                same_id(CdrRow.session_id) == same_id(target.session_id),  # any case: CiString
                CdrRow.credit.is_(False),
                CdrRow.cdr_id != target.cdr_id,
            )
            .order_by(CdrRow.pk)
        ).all()
        for replacement in pending:
            if _lines(
                db,
                RetailLineRow.country_code == replacement.country_code,
                RetailLineRow.party_id == replacement.party_id,
                RetailLineRow.cdr_id == replacement.cdr_id,
            ):
                continue
            wholesale = db.scalars(
                select(InvoiceLineRow).where(
                    InvoiceLineRow.country_code == replacement.country_code,
                    InvoiceLineRow.party_id == replacement.party_id,
                    InvoiceLineRow.cdr_id == replacement.cdr_id,
                )
            ).first()
            if wholesale is None:
                continue  # settled later: billed then, as a rebill
            raw = loads(replacement.raw)
            out.append(_charge(db, replacement, raw, wholesale, "rebill", target.cdr_id, now))
            break
    return out


def _negate(value: Any) -> Any:
    """Amounts in a line's detail, negated for its reversal; rule names stay."""
    if isinstance(value, str):
        try:
            return str(-Decimal(value))
        except ArithmeticError:
            return value
    return value

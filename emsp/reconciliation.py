"""Reconciliation: grade what the eMSP recorded and billed against what really happened.

The ground truth arrives as neutral `TruthSession`s (the simulators' records, or a real partner's
export); the eMSP side is its own `EmspRecords`. Every truth session gets exactly one row and one
class; every CDR the eMSP holds that no truth session explains gets an `orphan_cdr` row.

OCPI ids are unique per party only (mod_cdrs, mod_sessions: country_code + party_id + id), so every
join is on (country_code, party_id, id): two CPOs that both send `CDR-1` for their own `S1` are
graded independently. A CDR POSTed again with identical content is a retry the eMSP absorbed (it
bills once), not a mismatch; the same key with other content is `duplicate_cdr`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from emsp.model import CdrInfo, EmspRecords, FraudDecisionRecord, InvoiceLine, PartyRef
from emsp.wire import ci_key

# In order of precedence (but for the fraud classes at the end, see there): a row takes the first
# class whose condition holds.
CLASSES = (
    "matched",
    "refused",
    "wrongly_refused",
    "refused_unreachable",
    "refused_at_station",
    "wrongly_authorized",
    "whitelisted_after_block",
    "open_session",
    "missing_cdr",
    "duplicate_cdr",
    "credit_without_rebill",
    "rebill_without_credit",
    "orphan_cdr",
    "energy_mismatch",
    "missing_invoice",
    "price_mismatch",
    "quote_exceeded",
    # Cloned tokens (fraud): they come first of all for a fraudster's visit; an honest visit refused
    # by a fraud rule is honest_wrongly_refused rather than wrongly_refused. Listed last so that
    # the summaries of runs without fraud keep their order.
    "fraud_caught",
    "fraud_missed",
    "honest_wrongly_refused",
)

# A fraud refusal belongs to the visit whose plug-in it follows by at most this (authorization latency).
FRAUD_MATCH_WINDOW = timedelta(minutes=10)

DEFAULT_PRICE_TOLERANCE = Decimal("0.005")  # half a cent: what still rounds to the same invoice amount


@dataclass(frozen=True, slots=True)
class TruthSession:
    """One visit at a connector as the simulators (or a real partner's records) saw it."""

    key: str
    cpo: str
    station_id: str
    connector_id: int
    token_uid: str
    token_known: bool  # issued by the eMSP: authorization is expected to succeed
    authorized: bool
    transaction_id: str | None
    session_id: str | None  # the CPO's OCPI session id, the join key toward the eMSP
    plugged_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    energy_kwh: Decimal
    cost_excl_vat: Decimal | None
    cost_incl_vat: Decimal | None
    currency: str
    # The party (country_code, party_id) whose OCPI session this was; None: an export that does
    # not say, joined on the session id alone.
    party: PartyRef | None = None
    quoted: Decimal | None = None  # what the driver was quoted before authorizing (incl. VAT if known)
    fraudulent: bool = False  # a fraudster presented a copy of the token (cloned token)
    # How the CPO corrected the session's CDR ("" none): credit_and_rebill[_without_reference],
    # rebill_only (simulators/cpo/corrections.py)
    correction: str = ""
    # Why the CPO refused, when the eMSP never answered: "UNREACHABLE" (no connection) or
    # "ERROR_HTTP<5xx>" (an outage's 503). None: the eMSP answered (or the refusal was local).
    unanswered: str | None = None
    # Why the station turned the driver away without asking (the CSMS took it out of service, or a
    # reservation held the connector for another token); None: it did not.
    station_refusal: str | None = None
    # The CPO let the driver charge on its own copy of the token (mod_tokens whitelist) without an
    # answer from the eMSP: a block it had not received yet is the CPO's risk, not the eMSP's fault.
    whitelisted: bool = False
    # An app start whose START_SESSION never reached the CPO (its partner or hub unreachable): why,
    # as the eMSP recorded it. Nobody refused the token: the visit is refused_unreachable.
    start_unreachable: str | None = None


# (country_code, party_id, id), all compared without case: OCPI ids are CiStrings, so the truth's
# session id and the eMSP's (each CDR's spelling of it) match in any case.
Key = tuple[str, str, str]


def _key(party: PartyRef, object_id: str) -> Key:
    return (party.country_code.upper(), party.party_id.upper(), ci_key(object_id))


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    truth: TruthSession | None
    cdrs: tuple[CdrInfo, ...]
    invoice: InvoiceLine | None
    klass: str
    detail: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    rows: tuple[ReconciliationRow, ...]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CLASSES, 0)
        for row in self.rows:
            counts[row.klass] = counts.get(row.klass, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class FraudIndex:
    """The eMSP's fraud decisions by token uid and by the object (authorization reference, CDR) named."""

    by_uid: dict[str, list[FraudDecisionRecord]]
    by_object: dict[str, list[FraudDecisionRecord]]

    @staticmethod
    def of(decisions: Sequence[FraudDecisionRecord]) -> FraudIndex:
        by_uid: dict[str, list[FraudDecisionRecord]] = defaultdict(list)
        by_object: dict[str, list[FraudDecisionRecord]] = defaultdict(list)
        for d in decisions:
            by_uid[d.token_uid.upper()].append(d)  # a token uid is a CiString: case ignored
            if d.object_id is not None:  # a CDR's or authorization's id: CiStrings
                by_object[ci_key(d.object_id)].append(d)
        return FraudIndex(by_uid, by_object)

    def refusal(self, truth: TruthSession) -> FraudDecisionRecord | None:
        """The fraud refusal of this visit's authorization: same uid, right after its plug-in."""
        for d in self.by_uid.get(truth.token_uid.upper(), ()):
            if d.decision == "refuse" and truth.plugged_at <= d.at <= truth.plugged_at + FRAUD_MATCH_WINDOW:
                return d
        return None

    def flag(self, cdrs: Sequence[CdrInfo]) -> FraudDecisionRecord | None:
        """A flag on this visit's authorization (by its reference) or on its CDR."""
        for cdr in cdrs:
            names = [f"cdr:{cdr.party.country_code}/{cdr.party.party_id}/{cdr.cdr_id}"]
            if cdr.authorization_reference:
                names.append(cdr.authorization_reference)
            for name in map(ci_key, names):
                if self.by_object.get(name):
                    return self.by_object[name][0]
        return None


def _corrected(cdrs: Sequence[CdrInfo], credits: int, correction: str) -> tuple[str, str] | None:
    """A session whose CDR was credited: the credit needs exactly one replacement after it; and, where
    the truth says the CPO corrected the CDR, a second CDR needs a credit of the first (mod_cdrs: a
    CDR never changes; Credit CDRs). Two CDRs of a session nobody corrected stay `duplicate_cdr`."""
    if credits and len(cdrs) <= credits:
        return "credit_without_rebill", f"{credits} credit CDR(s) and no replacement: the session is unbilled"
    if len(cdrs) > 1 and not credits and correction:
        ids = ", ".join(c.cdr_id for c in cdrs)
        why = _NO_CREDIT.get(correction, "")
        return "rebill_without_credit", f"{len(cdrs)} CDRs [{ids}] and no credit CDR for the first{why}"
    return None


# Why the eMSP holds no credit CDR, where the correction says more than "it has none": the CPO sent
# a credit the spec does not allow, or sent none. (A credit with its reference that went missing
# keeps the bare detail: nothing here knows why.)
_NO_CREDIT = {
    "credit_and_rebill_without_reference": (
        ": the CPO's credit CDR named no credit_reference_id, which mod_cdrs requires of a Credit CDR,"
        " and the eMSP holds none (a spec-strict eMSP refuses it, 2001)"
    ),
    "rebill_only": ": the CPO sent the replacement without crediting the first",
}


def _classify(
    truth: TruthSession,
    cdrs: Sequence[CdrInfo],
    duplicates: int,
    invoice: InvoiceLine | None,
    tolerance: Decimal,
    credits: int = 0,
    fraud: FraudIndex | None = None,
) -> tuple[str, str]:
    fraud = fraud or FraudIndex({}, {})
    if truth.fraudulent:
        if not truth.authorized:
            refusal = fraud.refusal(truth)
            why = f" ({refusal.rule})" if refusal is not None else ""
            return "fraud_caught", f"a cloned token was refused{why}"
        flag = fraud.flag(cdrs)
        if flag is not None:
            return "fraud_caught", f"a cloned token charged and was flagged ({flag.rule})"
        return "fraud_missed", "a cloned token charged and nothing flagged it"
    if not truth.authorized:
        if truth.token_known and truth.station_refusal is not None:
            return "refused_at_station", truth.station_refusal
        if truth.token_known and truth.unanswered is not None:
            return "refused_unreachable", f"the eMSP did not answer the authorization ({truth.unanswered})"
        if truth.token_known and truth.start_unreachable is not None:
            return "refused_unreachable", f"the app start did not reach the CPO ({truth.start_unreachable})"
        if truth.token_known:
            refusal = fraud.refusal(truth)
            if refusal is not None:
                return "honest_wrongly_refused", f"refused by fraud rule {refusal.rule}: {refusal.detail}"
            return "wrongly_refused", "an eMSP-issued token was refused"
        return "refused", "unknown token refused"
    if not truth.token_known and truth.whitelisted:
        return "whitelisted_after_block", "the CPO allowed a blocked token from its whitelist copy"
    if not truth.token_known:
        return "wrongly_authorized", "a token the eMSP never issued was allowed to charge"
    if truth.ended_at is None:
        return "open_session", "still plugged in when the run ended"
    if not cdrs:
        return "missing_cdr", f"no CDR for session {truth.session_id}"
    if not duplicates and (corrected := _corrected(cdrs, credits, truth.correction)) is not None:
        return corrected
    if credits and len(cdrs) == credits + 1:
        cdrs = cdrs[-1:]  # credited CDRs replaced one for one: the last one stands
    if len(cdrs) > 1 or duplicates:
        ids = ", ".join(c.cdr_id for c in cdrs)
        return "duplicate_cdr", f"{len(cdrs)} CDR(s) [{ids}], {duplicates} resent with other content"
    cdr = cdrs[0]
    if cdr.total_energy_kwh != truth.energy_kwh:
        return "energy_mismatch", f"CDR {cdr.total_energy_kwh} kWh vs truth {truth.energy_kwh} kWh"
    if invoice is None or invoice.amount_excl_vat is None:
        return "missing_invoice", invoice.note if invoice is not None else "CDR was not invoiced"
    billed, expected = invoice.amount_incl_vat, truth.cost_incl_vat
    if billed is None or expected is None:
        billed, expected = invoice.amount_excl_vat, truth.cost_excl_vat
    if expected is None or abs(billed - expected) > tolerance:
        return "price_mismatch", f"invoiced {billed} vs truth {expected} {truth.currency}"
    if truth.quoted is not None:
        charged = invoice.amount_incl_vat if invoice.amount_incl_vat is not None else invoice.amount_excl_vat
        if charged is not None and charged > truth.quoted + tolerance:
            return "quote_exceeded", f"charged {charged} after a quote of {truth.quoted} {truth.currency}"
    return "matched", ""


def reconcile(
    truths: Sequence[TruthSession],
    records: EmspRecords,
    *,
    tolerance: Decimal = DEFAULT_PRICE_TOLERANCE,
) -> Reconciliation:
    by_session: dict[Key, list[CdrInfo]] = defaultdict(list)
    by_bare_session: dict[str, list[CdrInfo]] = defaultdict(list)  # for truths without a party
    credits: dict[Key, list[CdrInfo]] = defaultdict(list)
    for cdr in records.cdrs:
        if cdr.session_id is not None and cdr.credit:
            credits[_key(cdr.party, cdr.session_id)].append(cdr)
        elif cdr.session_id is not None:
            by_session[_key(cdr.party, cdr.session_id)].append(cdr)
            by_bare_session[ci_key(cdr.session_id)].append(cdr)
    changed: dict[Key, int] = defaultdict(int)
    for dup in records.duplicate_cdrs:
        if not dup.identical:  # an identical resend is a retry, billed once: not a mismatch
            changed[_key(dup.party, dup.cdr_id)] += 1
    invoices = {_key(line.party, line.cdr_id): line for line in records.invoice_lines}
    fraud = FraudIndex.of(records.fraud_decisions)

    rows: list[ReconciliationRow] = []
    explained: set[Key] = set()
    for truth in truths:
        cdrs: tuple[CdrInfo, ...] = ()
        if truth.session_id is not None:
            found = (
                by_session.get(_key(truth.party, truth.session_id), [])
                if truth.party is not None
                else by_bare_session.get(ci_key(truth.session_id), [])
            )
            cdrs = tuple(found)
        keys = [_key(c.party, c.cdr_id) for c in cdrs]
        explained.update(keys)
        credited = credits.get(_key(cdrs[0].party, cdrs[0].session_id or ""), []) if cdrs else []
        explained.update(_key(c.party, c.cdr_id) for c in credited)
        # The CDR that stands is the last when credits replaced the others one for one.
        standing = keys[-1] if keys and credited and len(keys) == len(credited) + 1 else None
        invoice = invoices.get(standing or keys[0]) if keys else None
        duplicates = sum(changed[k] for k in keys)
        klass, detail = _classify(truth, cdrs, duplicates, invoice, tolerance, len(credited), fraud)
        rows.append(ReconciliationRow(truth, cdrs, invoice, klass, detail))
    for cdr in records.cdrs:
        key = _key(cdr.party, cdr.cdr_id)
        if key not in explained:
            rows.append(
                ReconciliationRow(
                    None,
                    (cdr,),
                    invoices.get(key),
                    "orphan_cdr",
                    f"CDR {cdr.party.key()}/{cdr.cdr_id} matches no session that happened",
                )
            )
    return Reconciliation(tuple(rows))

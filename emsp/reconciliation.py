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
from datetime import datetime
from decimal import Decimal

from emsp.model import CdrInfo, EmspRecords, InvoiceLine, PartyRef

# In order of precedence: a row takes the first class whose condition holds.
CLASSES = (
    "matched",
    "refused",
    "wrongly_refused",
    "refused_unreachable",
    "wrongly_authorized",
    "open_session",
    "missing_cdr",
    "duplicate_cdr",
    "orphan_cdr",
    "energy_mismatch",
    "missing_invoice",
    "price_mismatch",
    "quote_exceeded",
)

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
    # Why the CPO refused, when the eMSP never answered: "UNREACHABLE" (no connection) or
    # "ERROR_HTTP<5xx>" (an outage's 503). None: the eMSP answered (or the refusal was local).
    unanswered: str | None = None


Key = tuple[str, str, str]  # (country_code, party_id, id), party upper-cased (CiString)


def _key(party: PartyRef, object_id: str) -> Key:
    return (party.country_code.upper(), party.party_id.upper(), object_id)


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


def _classify(
    truth: TruthSession,
    cdrs: Sequence[CdrInfo],
    duplicates: int,
    invoice: InvoiceLine | None,
    tolerance: Decimal,
) -> tuple[str, str]:
    if not truth.authorized:
        if truth.token_known and truth.unanswered is not None:
            return "refused_unreachable", f"the eMSP did not answer the authorization ({truth.unanswered})"
        if truth.token_known:
            return "wrongly_refused", "an eMSP-issued token was refused"
        return "refused", "unknown token refused"
    if not truth.token_known:
        return "wrongly_authorized", "a token the eMSP never issued was allowed to charge"
    if truth.ended_at is None:
        return "open_session", "still plugged in when the run ended"
    if not cdrs:
        return "missing_cdr", f"no CDR for session {truth.session_id}"
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
    for cdr in records.cdrs:
        if cdr.session_id is not None and not cdr.credit:
            by_session[_key(cdr.party, cdr.session_id)].append(cdr)
            by_bare_session[cdr.session_id].append(cdr)
    changed: dict[Key, int] = defaultdict(int)
    for dup in records.duplicate_cdrs:
        if not dup.identical:  # an identical resend is a retry, billed once: not a mismatch
            changed[_key(dup.party, dup.cdr_id)] += 1
    invoices = {_key(line.party, line.cdr_id): line for line in records.invoice_lines}

    rows: list[ReconciliationRow] = []
    explained: set[Key] = set()
    for truth in truths:
        cdrs: tuple[CdrInfo, ...] = ()
        if truth.session_id is not None:
            found = (
                by_session.get(_key(truth.party, truth.session_id), [])
                if truth.party is not None
                else by_bare_session.get(truth.session_id, [])
            )
            cdrs = tuple(found)
        keys = [_key(c.party, c.cdr_id) for c in cdrs]
        explained.update(keys)
        invoice = invoices.get(keys[0]) if keys else None
        duplicates = sum(changed[k] for k in keys)
        klass, detail = _classify(truth, cdrs, duplicates, invoice, tolerance)
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

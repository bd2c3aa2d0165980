"""Canonical, partner-agnostic model of the eMSP core (design principles 4 and 7).

These are the shapes the rest of the bench (reconciliation, summary, reports) reads. They carry
partner identity only as metadata (`partner`), money as `Decimal` with its currency, energy in kWh
and times as aware UTC. OCPI wire objects are kept verbatim beside them (`raw`) in storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class AllowedType(StrEnum):
    """Result of a real-time authorization (OCPI 2.2.1 tokens, AllowedType)."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


# The key of a canonical tariff document whose components state no VAT at all (its version has no
# `vat` field, 2.1.1): prices incl. VAT are then unknown, never computed as 0 %.
VAT_UNKNOWN = "vat_unknown"

# Recorded (not sent on the wire): the token was unknown, the answer was OCPI 2004.
UNKNOWN_TOKEN = "UNKNOWN"
# Recorded (not sent on the wire): the token is restricted to locations and the request named none,
# the answer was OCPI 2002 (tokens, POST method).
NOT_ENOUGH_INFORMATION = "NOT_ENOUGH_INFORMATION"


@dataclass(frozen=True, slots=True)
class PartyRef:
    """Owner of a client-owned object: OCPI country_code + party_id."""

    country_code: str
    party_id: str

    def key(self) -> str:
        return f"{self.country_code.upper()}*{self.party_id.upper()}"


@dataclass(frozen=True, slots=True)
class Money:
    excl_vat: Decimal
    incl_vat: Decimal | None
    currency: str


@dataclass(frozen=True, slots=True)
class LocationInfo:
    partner: str
    party: PartyRef
    location_id: str
    time_zone: str
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class TariffInfo:
    partner: str
    party: PartyRef
    tariff_id: str
    currency: str
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    partner: str
    party: PartyRef
    session_id: str
    status: str
    token_uid: str
    contract_id: str
    authorization_reference: str | None
    location_id: str
    kwh: Decimal
    start: datetime
    end: datetime | None
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class CdrInfo:
    partner: str
    party: PartyRef
    cdr_id: str
    session_id: str | None
    token_uid: str
    contract_id: str
    authorization_reference: str | None
    location_id: str
    total_energy_kwh: Decimal
    total_cost: Money
    start: datetime
    end: datetime
    received_at: datetime
    credit: bool


# ---- records handed to reconciliation and the summary (plain frozen dataclasses) ----


@dataclass(frozen=True, slots=True)
class AuthorizationRecord:
    partner: str
    token_uid: str
    token_type: str
    result: str  # an AllowedType value or UNKNOWN_TOKEN
    authorization_reference: str | None
    location_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class FraudDecisionRecord:
    """A fraud rule that fired (emsp.services.fraud): `decision` is `refuse` or `flag`."""

    token_uid: str
    token_type: str
    driver_id: str | None
    partner: str
    location_id: str | None
    object_id: str | None  # the session or CDR a flag is about, None for an authorization
    at: datetime
    rule: str
    decision: str
    detail: str


@dataclass(frozen=True, slots=True)
class DuplicateCdrRecord:
    partner: str
    party: PartyRef
    cdr_id: str
    at: datetime
    identical: bool  # False: same id, different content (a CDR may never change; spec: credit CDRs)


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """Something a partner did that the spec does not want, kept without failing the request.

    kind: one of emsp.findings.KINDS; `count` times in all, the first at `at` (its module, object
    and `detail`, a short excerpt), the last at `last_at`.
    """

    partner: str
    party: PartyRef
    kind: str
    module: str  # the OCPI module of the object: locations, tariffs, sessions, ...
    object_id: str  # the object's id; EVSE/connector pushes as LOC/EVSE[/CONNECTOR]
    detail: str
    at: datetime
    count: int = 1
    last_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line_no: int
    partner: str
    cdr_id: str
    party: PartyRef
    session_id: str | None
    token_uid: str
    contract_id: str
    currency: str
    energy_kwh: Decimal
    amount_excl_vat: Decimal | None  # our independent re-price; None when it could not be priced
    amount_incl_vat: Decimal | None
    cpo_excl_vat: Decimal
    cpo_incl_vat: Decimal | None
    delta_excl_vat: Decimal | None  # ours - CPO's
    tariff_id: str | None
    note: str  # "", or why the price is missing / which mismatch was seen
    at: datetime


# OCPI Commands (mod_commands), canonical: the command types and what became of a command we sent.
COMMAND_TYPES = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")
# A stored command's state: REQUESTED (sent, no CommandResponse yet), ACCEPTED (the CPO took it,
# the CommandResult is awaited), REFUSED (the CommandResponse was not ACCEPTED), FAILED (no usable
# CommandResponse: transport or OCPI error), COMPLETED (the CommandResult came), TIMEOUT (no answer
# or no result within the timeout).
COMMAND_STATES = ("REQUESTED", "ACCEPTED", "REFUSED", "FAILED", "COMPLETED", "TIMEOUT")
# Every CommandResultType value of any version (2.1.1 sends a CommandResponseType as the result).
COMMAND_RESULTS = (
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
    "UNKNOWN_SESSION",
)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """What a command asks, version-agnostic (the adapter writes the version's object)."""

    kind: str  # one of COMMAND_TYPES
    location_id: str | None = None
    evse_uid: str | None = None
    connector_id: str | None = None
    session_id: str | None = None
    reservation_id: str | None = None
    expiry_date: datetime | None = None
    authorization_reference: str | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    command_id: int
    partner: str
    party: PartyRef
    kind: str
    state: str  # one of COMMAND_STATES
    response: str | None  # the CPO's CommandResponseType
    result: str | None  # the Charge Point's CommandResultType, when it came (also after TIMEOUT)
    token_uid: str | None
    location_id: str | None
    evse_uid: str | None
    session_id: str | None
    created_at: datetime
    deadline: datetime | None
    result_at: datetime | None


@dataclass(frozen=True, slots=True)
class EmspRecords:
    authorizations: tuple[AuthorizationRecord, ...]
    sessions: tuple[SessionInfo, ...]
    cdrs: tuple[CdrInfo, ...]
    duplicate_cdrs: tuple[DuplicateCdrRecord, ...]
    invoice_lines: tuple[InvoiceLine, ...]
    findings: tuple[FindingRecord, ...] = ()
    fraud_decisions: tuple[FraudDecisionRecord, ...] = ()
    commands: tuple[CommandRecord, ...] = ()

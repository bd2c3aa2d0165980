"""SQLAlchemy 2.0 typed ORM tables. Raw OCPI JSON (text) is kept beside the canonical columns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ColumnElement, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from emsp.storage.packed import CDRS, SESSIONS, PackedText
from emsp.storage.types import DecimalText, UtcDateTime
from emsp.wire import ci_key


class Base(DeclarativeBase):
    pass


class PartnerRow(Base):
    __tablename__ = "partners"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_a: Mapped[str | None] = mapped_column(String(64), index=True)  # None once used (spec: thrown away)
    token_b: Mapped[str | None] = mapped_column(String(64))  # theirs: we send it on calls to them
    token_c: Mapped[str | None] = mapped_column(String(64), index=True)  # ours: they send it to us
    # Ours, offered in a registration we started: opens versions and credentials (like token A) until
    # the partner's answer makes it token C, or the handshake fails.
    token_pending: Mapped[str | None] = mapped_column(String(64), index=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    versions_url: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(16))
    roles_json: Mapped[str] = mapped_column(Text, default="[]")  # as the partner declared them
    # The operator's configuration: [[country_code, party_id, role], ...] this partner may act for;
    # its own credentials never widen it. `hub`: may forward objects of parties no other partner owns.
    parties_json: Mapped[str] = mapped_column(Text, default="[]")
    hub: Mapped[bool] = mapped_column(Boolean, default=False)
    endpoints_json: Mapped[str] = mapped_column(Text, default="[]")
    endpoints_status: Mapped[str] = mapped_column(String(32), default="none")  # none|fetching|ok|failed
    # The operator's tolerance options for this partner (emsp.ocpi.tolerance), as JSON; {}: strict.
    tolerate_json: Mapped[str] = mapped_column(Text, default="{}")


class CounterRow(Base):
    """Deterministic id generation that survives a restart on a file/PostgreSQL database."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class PartyObject:
    """The key columns of every row about a party's object: which partner sent it, for which party."""

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))


class LocationRow(PartyObject, Base):
    __tablename__ = "locations"
    location_id: Mapped[str] = mapped_column(String(39))  # 2.1.1: string(39)
    time_zone: Mapped[str] = mapped_column(String(255))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class TariffRow(PartyObject, Base):
    __tablename__ = "tariffs"
    tariff_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class SessionRow(PartyObject, Base):
    __tablename__ = "sessions"
    session_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    token_uid: Mapped[str] = mapped_column(String(36), index=True)  # a driver's sessions (fraud: overlap)
    contract_id: Mapped[str] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str] = mapped_column(String(39))  # 2.1.1: string(39)
    kwh: Mapped[Decimal] = mapped_column(DecimalText)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(PackedText(SESSIONS))  # the canonical document, compact on SQLite
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class CdrRow(PartyObject, Base):
    __tablename__ = "cdrs"
    cdr_id: Mapped[str] = mapped_column(String(39))
    session_id: Mapped[str | None] = mapped_column(String(36))
    token_uid: Mapped[str] = mapped_column(String(36))
    contract_id: Mapped[str] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str] = mapped_column(String(39))  # 2.1.1: string(39)
    currency: Mapped[str] = mapped_column(String(3))
    total_energy: Mapped[Decimal] = mapped_column(DecimalText)
    total_cost_excl: Mapped[Decimal] = mapped_column(DecimalText)
    total_cost_incl: Mapped[Decimal | None] = mapped_column(DecimalText)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credit: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str] = mapped_column(PackedText(CDRS))  # the canonical document, compact on SQLite
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)
    # Provenance (audit): the OCPI version it came under, how its schema validation went ("valid":
    # the version's tables held; "tolerated": accepted with notes, JSON list in validation_notes),
    # and the idempotency key its billing ran under. None on rows stored before they were recorded.
    ocpi_version: Mapped[str | None] = mapped_column(String(16), default=None)
    validation: Mapped[str | None] = mapped_column(String(16), default=None)
    validation_notes: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), default=None)


# A party's object ids are CiStrings (OCPI types: case ignored): one object per (party, id in any
# case), by a unique index on upper(id); the id column keeps the first spelling received. Every
# lookup of such an object by id compares its key with `same_id(value)`: upper() on both sides in
# SQL, so the two fold alike on every backend (PostgreSQL's upper() also folds non-ASCII letters,
# which 2.1.1's string ids may hold; emsp.wire.ci_key folds ASCII only, as SQLite's upper() does).
# Databases of earlier versions also keep their exact-case unique constraint, implied by this one.
PARTY_OBJECT_IDS: dict[str, str] = {  # table -> its id column
    "locations": "location_id",
    "tariffs": "tariff_id",
    "sessions": "session_id",
    "cdrs": "cdr_id",
}
PARTY_OBJECT_KEYS: dict[str, ColumnElement[str]] = {}
for _model in (LocationRow, TariffRow, SessionRow, CdrRow):
    _table = _model.__tablename__
    PARTY_OBJECT_KEYS[_table] = func.upper(getattr(_model, PARTY_OBJECT_IDS[_table]))
    Index(
        f"ux_{_table}_party_id_ci",
        _model.country_code,
        _model.party_id,
        PARTY_OBJECT_KEYS[_table],
        unique=True,
    )


def same_id(value: object) -> ColumnElement[str]:
    """What a `PARTY_OBJECT_KEYS` key equals for the id `value` (a bind parameter or a column)."""
    return func.upper(value)


# Columns that name a party's object by its id (a CDR's session, a tariff version's tariff, an
# invoice line's CDR) hold it as that message spelled it: a lookup by them compares
# `same_id(column) == same_id(value)`, served by an index on the same expression.
Index("ix_cdrs_session_ci", CdrRow.country_code, CdrRow.party_id, same_id(CdrRow.session_id))


class TariffVersionRow(Base):
    """Every version of a Tariff the eMSP stored, in the order received (the tariffs table keeps
    only the latest): which version was in effect at an instant, for a CDR's provenance."""

    __tablename__ = "tariff_versions"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    tariff_id: Mapped[str] = mapped_column(String(36))  # as that version's PUT spelled it
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)  # the version's own stamp
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)  # when we stored it
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)  # a DELETE ended it here


Index(
    "ix_tariff_versions_tariff_ci",
    TariffVersionRow.country_code,
    TariffVersionRow.party_id,
    same_id(TariffVersionRow.tariff_id),
)


class DuplicateCdrRow(PartyObject, Base):
    __tablename__ = "duplicate_cdrs"
    cdr_id: Mapped[str] = mapped_column(String(39))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    identical: Mapped[bool] = mapped_column(Boolean)


class FindingRow(PartyObject, Base):
    """What a partner did that the spec does not want (emsp.findings), recorded while the request
    was accepted: one row per partner, party and kind, counted, with its first example (module,
    object, detail, at). Writes are one atomic upsert of that row (emsp.services.findings), unique
    by `ux_findings_partner_party_kind`; readers still sum per kind (older databases, merged at
    upgrade by emsp.storage.schema)."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ux_findings_partner_party_kind", "partner", "country_code", "party_id", "kind", unique=True),
    )
    kind: Mapped[str] = mapped_column(String(32))
    module: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(128))  # up to LOC/EVSE/CONNECTOR (3 x CiString(36))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # first seen
    count: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class TokenRow(Base):
    """Our own tokens (the eMSP is the data owner)."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("uid", "type"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(16))
    contract_id: Mapped[str] = mapped_column(String(36))
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))
    issuer: Mapped[str] = mapped_column(String(64))
    has_credit: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    allowed_locations_json: Mapped[str | None] = mapped_column(Text)  # None: anywhere
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    # Federated identity (emsp/services/identity.py): the canonical driver this token belongs to, and
    # the one partner (CPO or hub relationship) it was issued for; None: valid with every partner.
    driver_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)  # drivers.driver_id
    partner: Mapped[str | None] = mapped_column(String(64), default=None)
    # The driver's EV battery as the contract states it (fraud: energy above it is flagged).
    max_battery_kwh: Mapped[Decimal | None] = mapped_column(DecimalText, default=None)


def token_key(uid: str) -> str:
    """A token uid's case-insensitive key: Token.uid is a CiString (types: printable ASCII, case
    ignored). ASCII letters only, as SQL upper() folds them on SQLite and PostgreSQL alike, so this
    key equals `upper_token_uid` of every uid the eMSP issues (printable ASCII)."""
    return ci_key(uid)


# What every lookup of a token by uid compares with `token_key(uid)`: one uid per type, whatever
# its case (the unique index below), stored and sent as issued.
upper_token_uid = func.upper(TokenRow.uid)
Index("ux_tokens_uid_ci_type", upper_token_uid, TokenRow.type, unique=True)


class AuthorizationRow(Base):
    __tablename__ = "authorizations"
    # A token's recent authorizations (fraud history warm-up, emsp/services/fraud.py).
    __table_args__ = (Index("ix_authorizations_token_at", "token_uid", "at"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    token_uid: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str | None] = mapped_column(String(39))  # 2.1.1: string(39)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class FraudDecisionRow(Base):
    """A fraud rule that fired (emsp/services/fraud.py): a refused authorization or a flag."""

    __tablename__ = "fraud_decisions"
    __table_args__ = (Index("ix_fraud_decisions_token_at", "token_uid", "at"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_uid: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(16))
    driver_id: Mapped[str | None] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str | None] = mapped_column(String(39))  # 2.1.1: string(39), as authorizations
    object_id: Mapped[str | None] = mapped_column(String(128))  # session/CDR of a flag, if any
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    rule: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(8))  # refuse | flag
    detail: Mapped[str] = mapped_column(Text)


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "cdr_id"),)  # one line per CDR
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    cdr_id: Mapped[str] = mapped_column(String(39))
    session_id: Mapped[str | None] = mapped_column(String(36))
    token_uid: Mapped[str] = mapped_column(String(36))
    contract_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    energy_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    amount_excl_vat: Mapped[Decimal | None] = mapped_column(DecimalText)
    amount_incl_vat: Mapped[Decimal | None] = mapped_column(DecimalText)
    cpo_excl_vat: Mapped[Decimal] = mapped_column(DecimalText)
    cpo_incl_vat: Mapped[Decimal | None] = mapped_column(DecimalText)
    delta_excl_vat: Mapped[Decimal | None] = mapped_column(DecimalText)
    tariff_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProcessedEventRow(Base):
    """Idempotency keys of bus handler effects already applied.

    SQLite: WITHOUT ROWID, the key is the table's b-tree (a rowid table kept every key twice, in
    the table and in its primary key's index: ~550 bytes per charging session)."""

    __tablename__ = "processed_events"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy's own declaration)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)


_PENDING = text("state = 'pending'")
_DEAD = text("state = 'dead'")
# `published.is_(False)` rendered per backend: SQLite uses a partial index only for a query term
# written as the index's own (`published = 0` would not match the query's `IS 0`).
_UNPUBLISHED_SQLITE = text("published IS 0")
_UNPUBLISHED_POSTGRESQL = text("published IS false")


class OutboxRow(Base):
    """Canonical events, written in the transaction of the object that caused them (transactional outbox).

    `seq` is the public cursor of the event stream (monotonic: SQLite AUTOINCREMENT, a PostgreSQL
    sequence). `state` is pending until every handler has applied its effect (done), or until a
    handler failed `max_attempts` times (dead). `published` tracks the external stream (NATS), apart.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # Partial: the claim, its per-key order check and the pending counts read pending rows
        # only, and nearly every row of the stream is done: full indexes on state and ordering key
        # kept ~700 bytes per charging session for rows no query of theirs looks at (schema.py
        # drops the full ones an older database has). Dead letters are few: their own index.
        Index("ix_outbox_pending_seq", "seq", sqlite_where=_PENDING, postgresql_where=_PENDING),
        Index(
            "ix_outbox_pending_order_seq",
            "ordering_key",
            "seq",
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
        Index("ix_outbox_dead_seq", "seq", sqlite_where=_DEAD, postgresql_where=_DEAD),
        # The stream publisher's backlog (rows not yet sent to NATS), as its query states it on each
        # backend: published rows leave the index, where the full one on (published, seq) kept them all.
        Index(
            "ix_outbox_unpublished_seq",
            "seq",
            sqlite_where=_UNPUBLISHED_SQLITE,
            postgresql_where=_UNPUBLISHED_POSTGRESQL,
        ),
        {"sqlite_autoincrement": True},  # never reuse a cursor value
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    partner: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(160))
    idempotency_key: Mapped[str] = mapped_column(String(512))
    payload: Mapped[str] = mapped_column(PackedText)  # compact on SQLite (emsp.storage.packed)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)  # request/scenario time, never the wall clock
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # backoff after a failure
    last_error: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)


# --- Billing: accounts, drivers, vehicles, contracts and retail lines (emsp.billing) -------------
# The canonical driver id lives here; identity (a driver's tokens per CPO/hub relationship) builds on
# `drivers.driver_id`. Billing resolves a CDR's driver through `emsp.billing.identity`.


class AccountRow(Base):
    """Who pays: a private driver's account or a fleet (B2B) account with vehicles and drivers."""

    __tablename__ = "accounts"
    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # private | fleet
    name: Mapped[str] = mapped_column(String(128), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")  # billing periods are local months
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    country: Mapped[str] = mapped_column(String(2), default="")  # the account holder's country
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DriverRow(Base):
    """The canonical driver: one person, whatever tokens they hold with whichever partner."""

    __tablename__ = "drivers"
    driver_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    contract_ref: Mapped[str | None] = mapped_column(String(36))  # billing_contracts.contract_ref
    vehicle_id: Mapped[str | None] = mapped_column(String(36))  # fleet drivers: their usual vehicle
    # The eMA id (OCPI contract_id) of the driver's tokens; identity may map more tokens to the driver.
    emaid: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VehicleRow(Base):
    __tablename__ = "vehicles"
    vehicle_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    label: Mapped[str] = mapped_column(String(64), default="")  # e.g. the plate


class BillingContractRow(Base):
    """A billing contract of an account (not the OCPI contract_id, which is an eMA id on a token)."""

    __tablename__ = "billing_contracts"
    contract_ref: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # subscription | pay_as_you_go | fleet
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    terms_json: Mapped[str] = mapped_column(Text, default="{}")  # emsp.billing.contracts terms
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RetailLineRow(Base):
    """One retail line: a charge for a CDR, its reversal by a credit CDR, or the rebill of its
    replacement; amounts are per line, never netted in place, so every step stays visible."""

    __tablename__ = "retail_lines"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "cdr_id", "kind"),)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # charge | reversal | rebill | fee
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    driver_id: Mapped[str | None] = mapped_column(String(36))
    vehicle_id: Mapped[str | None] = mapped_column(String(36))
    contract_ref: Mapped[str | None] = mapped_column(String(36))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the account's time zone
    partner: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))  # "bilateral" or the hub's partner id
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    # A CDR id (39) or a fee's FEE-<contract_ref 36>-<YYYY-MM>: 48, so no fee id is ever cut short
    # (older databases had 39, widened at start on PostgreSQL: emsp.storage.schema).
    cdr_id: Mapped[str] = mapped_column(String(48))
    session_id: Mapped[str | None] = mapped_column(String(36))
    reverses_line: Mapped[int | None] = mapped_column(Integer)  # reversal: the line it cancels
    replaces_cdr: Mapped[str | None] = mapped_column(String(39))  # rebill: the original CDR id
    jurisdiction: Mapped[str] = mapped_column(String(2))  # the location's country
    currency: Mapped[str] = mapped_column(String(3))
    energy_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    wholesale_excl: Mapped[Decimal] = mapped_column(DecimalText)  # sum of cost lines
    wholesale_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_lines_json: Mapped[str] = mapped_column(Text, default="[]")  # [{kind, party, amount}]
    retail_excl: Mapped[Decimal] = mapped_column(DecimalText)
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText)
    vat_amount: Mapped[Decimal] = mapped_column(DecimalText)
    retail_incl: Mapped[Decimal] = mapped_column(DecimalText)
    detail_json: Mapped[str] = mapped_column(Text, default="{}")  # pricing breakdown
    evidence_json: Mapped[str] = mapped_column(Text, default="{}")  # signed data, invoice fields
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class HubFeeRow(Base):
    """The operator's contract with a hub: what it charges per session routed through it
    (emsp.billing.hub_fees books it as a cost line of each such session)."""

    __tablename__ = "hub_fees"
    partner: Mapped[str] = mapped_column(String(64), primary_key=True)  # the hub's partner id
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))


class SyncStateRow(Base):
    """The last complete pull of one partner's Sender interface of one module (emsp.ocpi.pull):
    a catch-up asks for objects changed from then on (date_from)."""

    __tablename__ = "sync_state"
    partner: Mapped[str] = mapped_column(String(64), primary_key=True)
    module: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_sync: Mapped[datetime] = mapped_column(UtcDateTime)


class PulledCdrRow(PartyObject, Base):
    """A CDR we pulled before its owner's POST reached us: that first POST is not a repeat."""

    __tablename__ = "pulled_cdrs"
    cdr_id: Mapped[str] = mapped_column(String(39))


class PulledVersionRow(PartyObject, Base):
    """The newest version of a Location, Tariff or Session our own pull stored, and the newest the
    party had pushed before it (None: none). A push older than the pulled version is then not
    applied, yet is no stale_update of the party's while it is not older than its own last push:
    after an outage its queued updates arrive late, behind what the catch-up pull fetched."""

    __tablename__ = "pulled_versions"
    module: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(39))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    pushed_before: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


Index(
    "ux_pulled_versions_object_ci",
    PulledVersionRow.country_code,
    PulledVersionRow.party_id,
    PulledVersionRow.module,
    same_id(PulledVersionRow.object_id),
    unique=True,
)


class ClientInfoRow(Base):
    """A party's connection status as a hub reports it (mod_hub_client_info ClientInfo, Receiver)."""

    __tablename__ = "client_info"
    partner: Mapped[str] = mapped_column(String(64), primary_key=True)  # the hub that reported it
    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(3), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # CONNECTED | OFFLINE | PLANNED | SUSPENDED
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)


class CommandRow(Base):
    """A command we sent to a CPO (mod_commands, Sender): what it asked and what became of it.

    `pk` is the command id, part of the `response_url` the CPO POSTs the CommandResult to."""

    __tablename__ = "commands"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # drawn from the "command" counter
    partner: Mapped[str] = mapped_column(String(64))
    country_code: Mapped[str] = mapped_column(String(2))  # the CPO party the command is for
    party_id: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))  # CommandType
    version: Mapped[str] = mapped_column(String(16))  # the OCPI version it was sent in
    state: Mapped[str] = mapped_column(String(16))  # emsp.model.COMMAND_STATES
    response: Mapped[str | None] = mapped_column(String(32))  # CommandResponseType
    result: Mapped[str | None] = mapped_column(String(32))  # CommandResultType
    message: Mapped[str | None] = mapped_column(Text)  # the first DisplayText of response/result
    token_uid: Mapped[str | None] = mapped_column(String(36))
    token_type: Mapped[str | None] = mapped_column(String(16))
    location_id: Mapped[str | None] = mapped_column(String(39))
    evse_uid: Mapped[str | None] = mapped_column(String(39))
    connector_id: Mapped[str | None] = mapped_column(String(36))
    session_id: Mapped[str | None] = mapped_column(String(39))
    reservation_id: Mapped[str | None] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    request_json: Mapped[str] = mapped_column(Text)  # the body as sent
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # REQUESTED/ACCEPTED past this instant become TIMEOUT (the CommandResponse's timeout, or ours).
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class PendingCallRow(Base):
    """A call to a partner that must survive a restart (a Token push, emsp.pending_calls): written in
    the transaction of the change it tells, deleted when the partner's answer is handled."""

    __tablename__ = "pending_calls"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # queue order
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    partner: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    headers_json: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)

"""SQLAlchemy 2.0 typed ORM tables. Raw OCPI JSON (text) is kept beside the canonical columns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from emsp.storage.types import DecimalText, UtcDateTime


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
    __table_args__ = (UniqueConstraint("country_code", "party_id", "location_id"),)
    location_id: Mapped[str] = mapped_column(String(36))
    time_zone: Mapped[str] = mapped_column(String(255))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class TariffRow(PartyObject, Base):
    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "tariff_id"),)
    tariff_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class SessionRow(PartyObject, Base):
    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "session_id"),)
    session_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    token_uid: Mapped[str] = mapped_column(String(36))
    contract_id: Mapped[str] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str] = mapped_column(String(36))
    kwh: Mapped[Decimal] = mapped_column(DecimalText)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class CdrRow(PartyObject, Base):
    __tablename__ = "cdrs"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "cdr_id"),)
    cdr_id: Mapped[str] = mapped_column(String(39))
    session_id: Mapped[str | None] = mapped_column(String(36))
    token_uid: Mapped[str] = mapped_column(String(36))
    contract_id: Mapped[str] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    total_energy: Mapped[Decimal] = mapped_column(DecimalText)
    total_cost_excl: Mapped[Decimal] = mapped_column(DecimalText)
    total_cost_incl: Mapped[Decimal | None] = mapped_column(DecimalText)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credit: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str] = mapped_column(Text)  # the canonical document (emsp.ocpi.adapter)
    # The body as the partner's OCPI version sent it, where it differs from the canonical document.
    wire: Mapped[str | None] = mapped_column(Text, default=None)


class DuplicateCdrRow(PartyObject, Base):
    __tablename__ = "duplicate_cdrs"
    cdr_id: Mapped[str] = mapped_column(String(39))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    identical: Mapped[bool] = mapped_column(Boolean)


class FindingRow(PartyObject, Base):
    """What a partner did that the spec does not want (emsp.findings), recorded while the request
    was accepted: one row per partner, party and kind, counted, with its first example (module,
    object, detail, at). Writes are an update of that row (emsp.services.findings); two processes
    racing on a first one may each insert one, so readers sum the counts per kind."""

    __tablename__ = "findings"
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


class AuthorizationRow(Base):
    __tablename__ = "authorizations"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    token_uid: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    location_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


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
    """Idempotency keys of bus handler effects already applied."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)


class OutboxRow(Base):
    """Canonical events, written in the transaction of the object that caused them (transactional outbox).

    `seq` is the public cursor of the event stream (monotonic: SQLite AUTOINCREMENT, a PostgreSQL
    sequence). `state` is pending until every handler has applied its effect (done), or until a
    handler failed `max_attempts` times (dead). `published` tracks the external stream (NATS), apart.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_seq", "state", "seq"),
        Index("ix_outbox_order_seq", "ordering_key", "seq"),
        Index("ix_outbox_published_seq", "published", "seq"),
        {"sqlite_autoincrement": True},  # never reuse a cursor value
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    partner: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(160))
    idempotency_key: Mapped[str] = mapped_column(String(512))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)  # request/scenario time, never the wall clock
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # backoff after a failure
    last_error: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)

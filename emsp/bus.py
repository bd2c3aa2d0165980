"""Canonical events of the eMSP (design principle 8) and their row form in the outbox.

Inbound OCPI becomes canonical events. A module handler publishes them on its `Ctx`; the router
writes them as outbox rows in the very transaction that stores the object that caused them
(`emsp.outbox`), so an event exists exactly when its cause was committed. Processing happens after
the response, from the rows.

Each event knows its stream `kind`, its `ordering_key` (events of one key are processed in commit
order: a session's updates and then its CDR) and its `idempotency_key` (a consumer that sees the same
key twice sees the same fact twice). Its payload is the event's fields as JSON (`encode`/`decode`).
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Union

from simplejson.encoder import encode_basestring as _quote  # the string writer emsp.wire's uses
from sqlalchemy.orm import Session

from emsp.model import CdrInfo, PartyRef, SessionInfo
from emsp.timeutil import format_utc
from emsp.wire import dumps as _dumps

# The partner column of events about our own objects (tokens): no partner caused them.
OWN = "emsp"

TERMINAL_SESSION_STATUSES = frozenset({"COMPLETED", "INVALID"})


def _session_key(party: PartyRef, session_id: str) -> str:
    return f"session:{party.key()}:{session_id}"


class _Kind:
    """An event whose kind is its class's `KIND` (the name on the stream, in the outbox and NATS)."""

    __slots__ = ()
    KIND: ClassVar[str]

    @property
    def kind(self) -> str:
        return self.KIND


@dataclass(frozen=True, slots=True)
class LocationUpserted(_Kind):
    partner: str
    party: PartyRef
    location_id: str
    last_updated: datetime
    KIND: ClassVar[str] = "location.upserted"

    @property
    def ordering_key(self) -> str:
        return f"location:{self.party.key()}:{self.location_id}"

    @property
    def idempotency_key(self) -> str:
        return f"location:{self.party.key()}:{self.location_id}:{format_utc(self.last_updated)}"


@dataclass(frozen=True, slots=True)
class TariffUpserted(_Kind):
    partner: str
    party: PartyRef
    tariff_id: str
    last_updated: datetime
    KIND: ClassVar[str] = "tariff.upserted"

    @property
    def ordering_key(self) -> str:
        return f"tariff:{self.party.key()}:{self.tariff_id}"

    @property
    def idempotency_key(self) -> str:
        return f"tariff:{self.party.key()}:{self.tariff_id}:{format_utc(self.last_updated)}"


@dataclass(frozen=True, slots=True)
class TariffDeleted(_Kind):
    partner: str
    party: PartyRef
    tariff_id: str
    at: datetime
    KIND: ClassVar[str] = "tariff.deleted"

    @property
    def ordering_key(self) -> str:
        return f"tariff:{self.party.key()}:{self.tariff_id}"

    @property
    def idempotency_key(self) -> str:
        return f"tariff-deleted:{self.party.key()}:{self.tariff_id}:{format_utc(self.at)}"


@dataclass(frozen=True, slots=True)
class SessionUpserted:
    partner: str
    session: SessionInfo
    created: bool  # first time we saw this session
    # This update moved it to a terminal status. A session first seen already terminal is published
    # twice, started then ended, so every stream consumer sees both facts.
    ended: bool = False

    @property
    def kind(self) -> str:
        if self.created:
            return "session.started"
        return "session.ended" if self.ended else "session.updated"

    @property
    def ordering_key(self) -> str:
        return _session_key(self.session.party, self.session.session_id)

    @property
    def idempotency_key(self) -> str:
        s = self.session
        return f"{self.kind}:{s.party.key()}:{s.session_id}:{format_utc(s.last_updated)}"


@dataclass(frozen=True, slots=True)
class CdrReceived(_Kind):
    partner: str
    cdr: CdrInfo
    KIND: ClassVar[str] = "cdr.received"

    @property
    def ordering_key(self) -> str:
        # After the session's own events: billing sees the session's last state first.
        c = self.cdr
        return _session_key(c.party, c.session_id) if c.session_id else f"cdr:{c.party.key()}:{c.cdr_id}"

    @property
    def idempotency_key(self) -> str:
        # A CDR never changes (OCPI 2.2.1 CDRs, flow and lifecycle): party + id identifies it.
        return f"cdr:{self.cdr.party.key()}:{self.cdr.cdr_id}"


@dataclass(frozen=True, slots=True)
class CdrSettled(_Kind):
    """An invoice line was written for a CDR (emitted in the transaction that writes it)."""

    partner: str
    party: PartyRef
    cdr_id: str
    session_id: str | None
    line_no: int
    currency: str
    energy_kwh: Decimal
    amount_excl_vat: Decimal | None  # None: the CDR could not be priced (see the line's note)
    amount_incl_vat: Decimal | None
    KIND: ClassVar[str] = "cdr.settled"

    @property
    def ordering_key(self) -> str:
        if self.session_id:
            return _session_key(self.party, self.session_id)
        return f"cdr:{self.party.key()}:{self.cdr_id}"

    @property
    def idempotency_key(self) -> str:
        return f"cdr-settled:{self.party.key()}:{self.cdr_id}"


@dataclass(frozen=True, slots=True)
class TokenChanged(_Kind):
    """One of our tokens was issued or changed (its state as of `last_updated`)."""

    partner: str
    uid: str
    type: str
    contract_id: str
    valid: bool
    whitelist: str
    last_updated: datetime
    # Which change this is: a number drawn for every change of any of our tokens, never reused
    # (emsp.storage.db.Counters). Two changes within one millisecond share `last_updated`, so the
    # time cannot tell them apart: a handler or JetStream would drop the second as a duplicate.
    change: int = 0  # 0: an event from before changes were numbered (its key was the time)
    KIND: ClassVar[str] = "token.changed"

    @property
    def ordering_key(self) -> str:
        return f"token:{self.type}:{self.uid}"

    @property
    def idempotency_key(self) -> str:
        if self.change:
            return f"token:{self.type}:{self.uid}:change-{self.change}"
        return f"token:{self.type}:{self.uid}:{format_utc(self.last_updated)}"


Event = (
    LocationUpserted
    | TariffUpserted
    | TariffDeleted
    | SessionUpserted
    | CdrReceived
    | CdrSettled
    | TokenChanged
)
Handler = Callable[[Any, Session], None]

# Stream kind -> the event class its payload decodes to.
EVENT_CLASSES: dict[str, type[Any]] = {
    "location.upserted": LocationUpserted,
    "tariff.upserted": TariffUpserted,
    "tariff.deleted": TariffDeleted,
    "session.started": SessionUpserted,
    "session.updated": SessionUpserted,
    "session.ended": SessionUpserted,
    "cdr.received": CdrReceived,
    "cdr.settled": CdrSettled,
    "token.changed": TokenChanged,
}
KINDS = tuple(EVENT_CLASSES)


class QueueFull(Exception):
    """The partner's queue is at its bound: refuse the request (transient), lose nothing."""


# ---- payload codec: dataclass fields <-> JSON-safe values, exact (Decimal as text, ISO times) ----


# Types `encode` returns as they are: not dataclasses, not Decimal or datetime (nor subclasses).
_AS_IS = frozenset({str, int, bool, float, type(None)})


def encode(value: Any) -> Any:
    cls: Any = type(value)
    if cls in _AS_IS:  # what the lookups below would return unchanged, without them
        return value
    names = _field_names(cls)
    if names is not None:
        # Most fields are plain strings, numbers or None: taken here without a call per field
        # (an event has ~20 leaves); anything else goes through `encode` as before.
        out = {}
        for name in names:
            field_value = getattr(value, name)
            out[name] = field_value if type(field_value) in _AS_IS else encode(field_value)
        return out
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_text(value: Any) -> str:
    """`dumps(encode(value))` (emsp.wire), written directly: an event's payload text without
    building its dicts first. Exact types only (str, int, bool, None, Decimal, datetime, dataclasses
    of them); any other value is written by `dumps(encode(...))` in its place, which is the same
    text because a JSON object's text is its members' texts joined (no key sorting, no spaces)."""
    cls: Any = type(value)
    if cls is str:
        return _quote(value)
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    if cls is Decimal:
        return _quote(str(value))
    if cls is datetime:
        return _quote(value.isoformat())
    members = _members(cls)
    if members is None:
        return _dumps(encode(value))
    return _members_text(value, members)


def _members_text(value: Any, members: tuple[tuple[str, str], ...]) -> str:
    """encode_text of a dataclass `value` whose `_members` are `members`."""
    parts = []
    for name, key in members:
        field_value = getattr(value, name)
        kind = type(field_value)  # the commonest fields written here, without a call
        if kind is str:
            parts.append(key + _quote(field_value))
        elif field_value is None:
            parts.append(key + "null")
        elif kind is datetime:  # its text is digits and -:.T+ (nothing to escape), as below
            parts.append(key + '"' + _iso(field_value) + '"')
        elif kind is Decimal:  # digits, -.E+ or NaN/Infinity: nothing to escape
            parts.append(key + '"' + str(field_value) + '"')
        elif kind is bool:
            parts.append(key + ("true" if field_value else "false"))
        elif kind is PartyRef:
            parts.append(key + _party_text(field_value))
        elif kind is SessionInfo:
            parts.append(key + _session_text(field_value))
        else:
            parts.append(key + encode_text(field_value))
    return "{" + ",".join(parts) + "}"


_PARTY_TEXTS: dict[PartyRef, str] = {}  # a run's few parties, each written once (bounded below)
_PARTY_TEXTS_MAX = 1024


def _party_text(party: PartyRef) -> str:
    """encode_text(party), remembered for parties of plain strings: equal ones have equal text."""
    text = _PARTY_TEXTS.get(party)
    if text is None:
        text = encode_text(party)
        if type(party.country_code) is str and type(party.party_id) is str:
            if len(_PARTY_TEXTS) >= _PARTY_TEXTS_MAX:
                _PARTY_TEXTS.clear()
            _PARTY_TEXTS[party] = text
    return text


def _iso_afresh(moment: datetime) -> str:
    return moment.isoformat()


# An event's times repeat (a scenario instant serves many requests; a session's start is in each of
# its events). Only datetimes in UTC itself are keys, whose equality is the instant's and so their
# text's (an equal instant in another zone writes another offset: not cached, as timeutil's memo).
_iso_cached = functools.lru_cache(maxsize=4096)(_iso_afresh)


def _iso(moment: datetime) -> str:
    """`moment.isoformat()`, remembered for plain datetimes in UTC."""
    return _iso_cached(moment) if moment.tzinfo is UTC and type(moment) is datetime else moment.isoformat()


# A running session's events (one per PATCH) repeat every field of its SessionInfo but the last
# ones, which its updates change: the text of the fields before them is remembered by their values.
_SESSION_TAIL = ("kwh", "start", "end", "last_updated")
_SESSION_HEAD: tuple[str, ...] = tuple(f.name for f in fields(SessionInfo))[: -len(_SESSION_TAIL)]
assert tuple(f.name for f in fields(SessionInfo))[len(_SESSION_HEAD) :] == _SESSION_TAIL
_session_head_values = operator.attrgetter(*_SESSION_HEAD)
_SESSION_MEMBERS = tuple((f.name, _quote(f.name) + ":") for f in fields(SessionInfo))
_SESSION_HEADS: dict[tuple[Any, ...], str] = {}  # bounded below: a run's sessions in flight
_SESSION_HEADS_MAX = 4096


def _session_text(info: SessionInfo) -> str:
    """encode_text(info), its head (the fields before kwh) remembered while its values are plain
    (exact str, None, a PartyRef of str): equal values then have equal text."""
    values = _session_head_values(info)
    try:
        head = _SESSION_HEADS.get(values)
    except TypeError:  # a value that is no key (unhashable): not a plain one either
        head = None
    if head is None:
        if not all(_plain_head_value(v) for v in values):
            return _members_text(info, _SESSION_MEMBERS)
        head = _members_text(info, _SESSION_MEMBERS[: len(_SESSION_HEAD)])[:-1] + ","  # "{...,"
        if len(_SESSION_HEADS) >= _SESSION_HEADS_MAX:
            _SESSION_HEADS.clear()
        _SESSION_HEADS[values] = head
    kwh, start, end, last_updated = info.kwh, info.start, info.end, info.last_updated
    if not (type(kwh) is Decimal and type(start) is datetime and type(last_updated) is datetime):
        return _members_text(info, _SESSION_MEMBERS)
    if end is None:
        end_text = "null"
    elif type(end) is datetime:
        end_text = '"' + _iso(end) + '"'
    else:
        return _members_text(info, _SESSION_MEMBERS)
    # Decimal's text is digits, -.E+ or NaN/Infinity; a datetime's digits and -:.T+: nothing to escape.
    return (
        f'{head}"kwh":"{kwh}","start":"{_iso(start)}","end":{end_text},'
        f'"last_updated":"{_iso(last_updated)}"}}'
    )


def _plain_head_value(value: Any) -> bool:
    kind = type(value)
    if kind is PartyRef:
        return type(value.country_code) is str and type(value.party_id) is str
    return kind is str or value is None


@functools.cache
def _members(cls: Any) -> tuple[tuple[str, str], ...] | None:
    """A dataclass's (field name, its JSON key text with the colon); None: not a dataclass."""
    names = _field_names(cls)
    return None if names is None else tuple((name, _quote(name) + ":") for name in names)


def decode(kind: str, payload: dict[str, Any]) -> Event:
    cls = EVENT_CLASSES.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    return typing.cast(Event, _decode_as(cls, payload))


@functools.cache
def _field_names(cls: Any) -> tuple[str, ...] | None:
    """A dataclass's field names (None: not a dataclass); looked up once per class, not per value."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


@functools.cache
def _field_hints(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    """(field name, resolved type) of a dataclass: resolving annotations costs more than decoding."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in fields(cls))


def _decode_as(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is Union or isinstance(tp, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode_as(inner[0], value)
    if isinstance(tp, type) and is_dataclass(tp):
        return tp(**{name: _decode_as(hint, value[name]) for name, hint in _field_hints(tp) if name in value})
    if tp is Decimal:
        return Decimal(value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    return value

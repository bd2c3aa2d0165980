"""`encode` takes plain field values without a call each: the payload is the one the plain recursive
encoder made, for every event class and for values of unusual types (enums, subclasses, lists)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from emsp.bus import (
    CdrReceived,
    CdrSettled,
    SessionUpserted,
    TariffDeleted,
    TokenChanged,
    _field_names,
    encode,
    encode_text,
)
from emsp.model import CdrInfo, Money, PartyRef, SessionInfo
from emsp.wire import dumps

T = datetime(2025, 3, 1, 9, 0, 30, 123000, tzinfo=UTC)
PARTY = PartyRef("DE", "CPA")


def reference(value: Any) -> Any:
    """The encoder as it was: one recursive call per value."""
    names = _field_names(type(value))
    if names is not None:
        return {name: reference(getattr(value, name)) for name in names}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Status(StrEnum):
    ACTIVE = "ACTIVE"


class Text(str):
    pass


class Amount(Decimal):
    pass


class Instant(datetime):
    pass


SESSION = SessionInfo("cpo1", PARTY, "S1", "ACTIVE", "U1", "C1", None, "L1", Decimal("1.250"), T, None, T)
CDR = CdrInfo(
    "cpo1", PARTY, "C1", None, "U1", "C1", "A", "L1", Decimal("-0.5"), Money(Decimal("3"), None, "EUR"),
    T, T, T, True,
)  # fmt: skip
EVENTS = [
    SessionUpserted("cpo1", SESSION, True),
    SessionUpserted("cpo1", dataclasses.replace(SESSION, status=Status.ACTIVE), False),
    CdrReceived("cpo1", CDR),
    CdrSettled("cpo1", PARTY, Text("C1"), "S1", 7, "EUR", Decimal("1E+2"), None, Decimal("0.00")),
    TokenChanged("", "U1", "RFID", "C1", False, "ALLOWED", T, 12),
    TariffDeleted("cpo1", PARTY, "T1", T),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_payload_is_the_plain_encoders(event: Any) -> None:
    assert encode(event) == reference(event)
    assert [type(v) for v in encode(event).values()] == [type(v) for v in reference(event).values()]


class Count(int):
    pass


@dataclasses.dataclass
class Odd:
    """Values `encode_text` leaves to the general writer, and strings that need escaping."""

    text: Any
    other: Any = None


ODD = [
    Odd('quote " backslash \\ é \u2028 \x00 tab\t \ud800'),
    Odd(Status.ACTIVE, Text("sub")),
    Odd(Count(3), True),
    Odd(1.5, -0.0),
    Odd([Decimal("1.0"), None, {"k": "v"}], (1, "a")),
    Odd({"nested": {"d": Decimal("-0.00")}}, 2**70),
    Odd(Amount("1E+3"), Instant(2025, 3, 1, tzinfo=UTC)),
    Odd(False, -7),
    Odd(T, Decimal("NaN")),  # written in encode_text's own loop
    Odd(datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))), Decimal("-1E-7")),
    Odd(PartyRef(Text("de"), Status.ACTIVE), PARTY),  # parties: remembered by value, plain ones only
    Odd(PartyRef("DE", "CPA"), PartyRef(Text("DE"), "CPA")),
    Odd(PartyRef('q"', "\u2028"), PartyRef('q"', "\u2028")),
]


@pytest.mark.parametrize("value", [*EVENTS, *ODD], ids=lambda e: type(e).__name__)
def test_payload_text_is_dumps_of_the_payload(value: Any) -> None:
    assert encode_text(value) == dumps(encode(value))


# A session's fields before kwh are remembered by value (emsp.bus._session_text): each variant is
# written twice (the second from the memo), after a session equal to it but in one field of its head.
SESSION_VARIANTS = [
    SESSION,
    dataclasses.replace(SESSION, status="COMPLETED", end=T + timedelta(hours=1)),
    dataclasses.replace(SESSION, authorization_reference="REF1", kwh=Decimal("-0.000")),
    dataclasses.replace(SESSION, status=Status.ACTIVE, token_uid=Text("U1")),  # equal to plain ones
    dataclasses.replace(SESSION, party=PartyRef(Text("DE"), "CPA"), location_id='q"\u2028\x00é'),
    dataclasses.replace(SESSION, kwh=Amount("2.5"), start=Instant(2025, 3, 1, tzinfo=UTC)),
    dataclasses.replace(SESSION, last_updated=T.astimezone(timezone(timedelta(hours=2))), kwh=3),
    dataclasses.replace(SESSION, end=T.astimezone(timezone(timedelta(hours=-5))), contract_id=[1]),
    dataclasses.replace(SESSION, session_id="S2", start=datetime(999, 1, 2, tzinfo=UTC)),
]


@pytest.mark.parametrize("info", SESSION_VARIANTS)
def test_a_remembered_session_head_writes_the_same_text(info: SessionInfo) -> None:
    other = dataclasses.replace(info, status="PENDING" if info.status != "PENDING" else "ACTIVE")
    for value in (other, info, info, SessionUpserted("cpo1", info, False, True)):
        assert encode_text(value) == dumps(encode(value))

"""Fast paths of the OCPP-J codec and the station's scheduling give what the general code gives."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench import trace
from emsp.ocpi.envelope import MISSING, respond
from emsp.wire import dumps
from simulators.cpo.ocpi_client import body_text, build_request, written_json
from simulators.cpo.sender import Published
from simulators.ocppj import codec as codec_of
from simulators.ocppj.codec import _DECODE, _ENCODE, _decode
from simulators.station.base import VirtualStation, _whole_second
from simulators.station.physics import EvProfile
from simulators.station.session import Session
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

Pair = namedtuple("Pair", "a b")
_AT = datetime(2026, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)

VALUES: list[Any] = [
    [2, "id-1", "MeterValues", {"connectorId": 1, "meterValue": [{"value": Decimal("12.50")}]}],
    [3, "id-2", {}],
    {"b": 1, "a": [True, False, None, 1.5, -0.0, 10**30]},
    {"ünïcode": 'ε\u2028\n"\\', 1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
    (1, 2, Pair(1, 2)),
    "just a string",
    Decimal("1E+3"),
    [],
    {},
]


def test_cpo_body_text_is_emsp_wire_dumps() -> None:
    for value in VALUES:
        assert body_text(value) == dumps(value)


@pytest.mark.parametrize("value", [*VALUES, "a\nb"])
def test_trace_embeds_a_cpo_body_as_parsing_it_would(value: Any) -> None:
    request = build_request(
        "PUT",
        "http://x",
        token="t",
        token_encoding="plain",
        request_id="r",
        correlation_id="c",
        parties=None,
        body=value,
    )
    assert request.body is not None and written_json(request.body)
    equal = request.body[:1] + request.body[1:]  # an equal text, not that object: parsed as before
    assert not written_json(equal)
    assert trace._embed(request.body) == trace._embed(equal)


def _request(body: Any, text: str | None) -> Any:
    return build_request(
        "PUT", "http://x", token="t", token_encoding="plain", request_id="r", correlation_id="c",
        parties=None, body=body, text=text,
    )  # fmt: skip


@pytest.mark.parametrize("value", VALUES)
def test_a_request_from_the_text_already_written_is_the_one_encoded(value: Any) -> None:
    given = _request(value, dumps(value))
    assert given == _request(value, None)
    assert given.body is not None and written_json(given.body)


@pytest.mark.parametrize("module", ["sessions", "cdrs", "locations"])
def test_published_from_the_text_already_written_is_what_encoding_stores(module: str) -> None:
    objects = [
        {"id": "S1", "kwh": Decimal("0.000"), "status": "ACTIVE", "last_updated": "2026-01-01T08:00:00Z"},
        {"id": "S2", "kwh": Decimal("12.50"), "periods": [{"v": Decimal("1E+3")}], "note": "ünï\n"},
        {"id": "S1", "kwh": Decimal("7.125"), "status": "COMPLETED", "last_updated": "2026-01-01T09:00:00Z"},
    ]
    encoded, given = Published(), Published()
    for obj in objects:
        encoded.put(module, str(obj["id"]), obj)
        given.put(module, str(obj["id"]), obj, dumps(obj))
    for key in ("S1", "S2"):
        stored, expected = given._objects[module][key], encoded._objects[module][key]
        assert stored == expected if isinstance(stored, bytes) else stored.body == expected.body  # type: ignore[union-attr]
        assert given.get(module, key) == encoded.get(module, key)


@pytest.mark.parametrize(
    ("data", "status_code", "message"),
    [
        (MISSING, 1000, "Success"),
        (MISSING, 2001, 'line\nbreak \u2028 and "quotes"'),
        (None, 1000, ""),
        ({"id": "S1", "kwh": Decimal("1.250"), "periods": [1, 2.5, True, None]}, 1000, "Success"),
        ([{"ünïcode": "ε\r\n"}], 3000, None),
        ("just a string", 1000, "Success"),
    ],
)
def test_trace_embeds_an_emsp_envelope_as_parsing_it_would(
    data: Any, status_code: int, message: str | None
) -> None:
    body = respond(http_status=200, status_code=status_code, message=message, now=_AT, data=data).body
    assert written_json(body)
    equal = body[:1] + body[1:]  # an equal text, not that object: parsed as before
    assert not written_json(equal)
    assert trace._embed(body) == trace._embed(equal)


@pytest.mark.parametrize(
    "text",
    [
        '[2,"a","Heartbeat",{}]',
        ' [2,"a","Heartbeat",{}]',
        '[2,"a","Heartbeat",{}] ',
        '[2,"a","Heartbeat",{}]\n',
        '[2,"a","Heartbeat",{}] x',
        '[2,"a","Heartbeat",{}][1]',
        '[2,"a","MeterValues",{"v":1.50,"w":1e2}]',
        '[2,"a",NaN]',
        '[2,"a",',
        "",
        "   ",
        "nul",
        '"text"',
        "[" * 100_000,
    ],
)
def test_frame_decoder_fast_path_is_the_decoder(text: str) -> None:
    def outcome(decode: Any) -> Any:
        try:
            return ("value", decode(text))
        except (ValueError, RecursionError) as exc:
            return ("error", type(exc), str(exc))

    assert outcome(_decode) == outcome(_DECODE)


@pytest.mark.parametrize("unique_id", ["a-1", 'CS-ü-\u2028-\\-"-\x01-1', "x" * 36])
def test_empty_payload_frames_are_what_the_encoder_writes(unique_id: str) -> None:
    for version in ("1.6", "2.0.1"):
        c = codec_of(version)
        call = c.encode_call(unique_id, "Heartbeat", {})
        assert call == _ENCODE([2, unique_id, "Heartbeat", {}])
        result = c.encode_result(unique_id, "StatusNotification", {})
        assert result == _ENCODE([3, unique_id, {}])
        assert c.decode(result, pending={unique_id: "StatusNotification"}).payload == {}  # type: ignore[union-attr]


def test_codec_round_trip_keeps_decimals() -> None:
    c = codec_of("2.0.1")
    text = '[3,"a",{"currentTime":"2024-01-01T00:00:00Z","interval":300,"status":"Accepted"}]'
    result = c.decode(text, pending={"a": "BootNotification"})
    assert result.payload["interval"] == 300  # type: ignore[union-attr]


def _listed_due(station: VirtualStation) -> tuple[datetime, int, int] | None:
    """The minimum over the full list of scheduled things, as the station computed it before."""
    due: list[tuple[datetime, int, int]] = []
    if station._boot_retry_at is not None:
        due.append((station._boot_retry_at, 0, 0))
    if station._next_heartbeat is not None:
        due.append((station._next_heartbeat, 1, 0))
    for cid, conn in station.connectors.items():
        s = conn.session
        if s is None or s.started_at is None:
            continue
        if s.full_at is not None and not s.is_full:
            due.append((s.full_at, 2, cid))
        if s.next_sample_at is not None:
            due.append((s.next_sample_at, 3, cid))
        if s.next_limit_at is not None:
            due.append((s.next_limit_at, 5, cid))
    if station.call_timeout is not None and station.endpoint.sent_at is not None:
        due.append((station.endpoint.sent_at + station.call_timeout, 4, 0))
    if (job_at := station.upkeep.next_at()) is not None:
        due.append((job_at, 6, 0))
    due += [(end, 7, rid) for rid, end in station.reservation_ends.items() if rid in station.reservations]
    return min(due) if due else None


@pytest.mark.parametrize("cls", [Station16, Station201])
def test_next_due_is_the_minimum_of_everything_scheduled(cls: type[VirtualStation]) -> None:
    t0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    station = cls("CS-1", connectors=3, max_power_kw=Decimal(11), call_timeout_s=30)
    assert station._next_due() is None and _listed_due(station) is None
    station.on_connected(t0)
    checks = [station._next_due() == _listed_due(station)]
    station._next_heartbeat = t0 + timedelta(seconds=10)
    station._boot_retry_at = t0 + timedelta(seconds=10)  # a tie on the instant: rank decides
    checks.append(station._next_due() == _listed_due(station))
    station.booted = True
    ev = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(30))
    for cid in (1, 2):
        station.connectors[cid].session = session = _session(ev, t0)
        session.next_sample_at = t0 + timedelta(seconds=5 + cid)
        session.full_at = t0 + timedelta(seconds=5 + cid)
        checks.append(station._next_due() == _listed_due(station))
    station.reservations = {9: (None, "TOK"), 4: (3, "TOK")}
    station.reservation_ends = {9: t0, 4: t0, 5: t0 - timedelta(1)}  # 5: no longer held
    checks.append(station._next_due() == _listed_due(station))
    assert all(checks)


def _session(ev: EvProfile, t0: datetime) -> Session:
    session = Session("TOK", ev, plugged_at=t0)
    session.started_at = t0
    return session


@pytest.mark.parametrize(
    "text",
    ["2026-01-02T03:04:05Z", "2026-01-02t03:04:05.123456789+01:30", "2026-13-01T00:00:00Z", "x", ""],
)
def test_cached_timestamp_reading_is_the_reading(text: str) -> None:
    from simulators.ocppj.timestamps import _parse, parse_timestamp

    for _ in range(2):  # the second time from the cache
        assert parse_timestamp(text) == _parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.120Z",
        "2024-02-29T23:59:59.999Z",
        "2023-02-29T00:00:00Z",  # no such day
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:59:60Z",  # a leap second: the last instant of its minute
        "2026-01-01T23:59:60.500Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
    ],
)
def test_our_own_timestamps_read_as_the_general_reading_reads_them(text: str) -> None:
    """format_utc's shape goes through datetime's parser; what it refuses, the general one decides."""
    from simulators.ocppj.timestamps import _OURS, _parse, _read

    assert _OURS.fullmatch(text)
    assert _parse(text) == _read(text)
    if _read(text) is not None:
        assert _parse(text).tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 2, 7, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 7, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 7, 0, 59, 999_999, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, 0, 500_000, fold=1, tzinfo=UTC),
    ],
)
def test_whole_second_is_replace_microsecond(moment: datetime) -> None:
    floored = _whole_second(moment)
    assert floored == moment.replace(microsecond=0)
    # UTC has no repeated wall hour: fold changes no offset, so the floored instant may drop it.
    assert (floored.tzinfo, floored.utcoffset()) == (moment.tzinfo, moment.utcoffset())
    assert (floored is moment) == (moment.microsecond == 0)  # no new object when already whole

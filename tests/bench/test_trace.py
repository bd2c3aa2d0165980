"""The wire trace writer: modes, gzip, counting independent of writing, one message per line."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.trace import WireTrace, trace_path
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _feed(trace: WireTrace) -> None:
    """A few crossings of each kind, with times that repeat and move (the writer caches the last)."""
    request = HttpRequest(
        "POST", "http://emsp.local/ocpi/2.2.1/cdrs", {"Authorization": "Token x"}, '{"id":"1"}'
    )
    for i in range(3):
        t = T0 + timedelta(milliseconds=250 * (i // 2))
        trace.ocpp(t, "ocpp1.6", "CS1", "cpo-a", f'[2,"{i}","Heartbeat",{{}}]')
        trace.ocpp(t, "ocpp2.0.1", "cpo-a", "CS2", '[3,"x",{"currentTime":"2026-03-02T07:00:00Z"}]')
        trace.ocpi_request(t, "ocpi2.2.1", "cpo-a", "emsp", request)
        trace.ocpi_response(
            t,
            "ocpi2.2.1",
            "emsp",
            "cpo-a",
            request,
            HttpResponse(200, {"X-Request-ID": "r"}, '{"status_code":1000}'),
        )
    trace.close()


def _reference_lines() -> list[str]:
    """What the trace held before the writer was optimised: emsp.wire.dumps of each record."""
    url = "http://emsp.local/ocpi/2.2.1/cdrs"
    lines = []
    for i in range(3):
        t = "2026-03-02T07:00:00Z" if i < 2 else "2026-03-02T07:00:00.250Z"
        heartbeat = f'[2,"{i}","Heartbeat",{{}}]'
        answer = '[3,"x",{"currentTime":"2026-03-02T07:00:00Z"}]'
        records: list[dict[str, object]] = [
            {"t": t, "proto": "ocpp1.6", "src": "CS1", "dst": "cpo-a", "frame": heartbeat},
            {"t": t, "proto": "ocpp2.0.1", "src": "cpo-a", "dst": "CS2", "frame": answer},
            {"t": t, "proto": "ocpi2.2.1", "src": "cpo-a", "dst": "emsp", "kind": "request", "method": "POST"}
            | {"url": url, "headers": {"Authorization": "Token x"}, "body": {"id": "1"}},
            {
                "t": t,
                "proto": "ocpi2.2.1",
                "src": "emsp",
                "dst": "cpo-a",
                "kind": "response",
                "method": "POST",
            }
            | {"url": url, "headers": {"X-Request-ID": "r"}, "status": 200, "body": {"status_code": 1000}},
        ]
        lines += [dumps(record) for record in records]
    return lines


def test_full_writes_the_same_bytes_as_one_dumps_per_record(tmp_path: Path) -> None:
    trace = WireTrace(tmp_path / "trace.jsonl")
    _feed(trace)
    assert (tmp_path / "trace.jsonl").read_text(encoding="utf-8").splitlines() == _reference_lines()


@pytest.mark.parametrize("mode", ["full", "ocpi", "off"])
def test_counts_do_not_depend_on_the_mode(tmp_path: Path, mode: str) -> None:
    trace = WireTrace(trace_path(tmp_path, mode, False), mode)  # type: ignore[arg-type]
    _feed(trace)
    assert dict(trace.counts) == {"ocpp1.6": 3, "ocpp2.0.1": 3, "ocpi2.2.1": 6}


def test_ocpi_mode_keeps_exactly_the_ocpi_lines(tmp_path: Path) -> None:
    _feed(WireTrace(tmp_path / "trace.jsonl", "ocpi"))
    expected = [line for line in _reference_lines() if '"proto":"ocpi' in line]
    assert (tmp_path / "trace.jsonl").read_text(encoding="utf-8").splitlines() == expected


def test_off_writes_no_file(tmp_path: Path) -> None:
    assert trace_path(tmp_path, "off", False) is None
    _feed(WireTrace(tmp_path / "trace.jsonl", "off"))  # even given a path, off writes nothing
    assert list(tmp_path.iterdir()) == []


def test_gzip_holds_the_plain_bytes_and_is_reproducible(tmp_path: Path) -> None:
    _feed(WireTrace(tmp_path / "trace.jsonl"))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        path = trace_path(tmp_path / name, "full", True)
        assert path is not None and path.name == "trace.jsonl.gz"
        _feed(WireTrace(path))
    packed = (tmp_path / "a" / "trace.jsonl.gz").read_bytes()
    assert gzip.decompress(packed) == (tmp_path / "trace.jsonl").read_bytes()
    assert packed == (tmp_path / "b" / "trace.jsonl.gz").read_bytes()
    # RFC 1952 header: FLG byte without FNAME (no file name) and MTIME 0 (no wall clock).
    assert packed[3] & 0x08 == 0
    assert packed[4:8] == b"\0\0\0\0"


def test_a_pretty_printed_body_stays_on_one_line_with_the_same_meaning(tmp_path: Path) -> None:
    body = '{\n  "status_code": 1000,\r\n  "data": ["a\\nb"]\n}\n'
    request = HttpRequest("GET", "http://cpo.local/ocpi/2.2.1/tariffs")
    trace = WireTrace(tmp_path / "trace.jsonl")
    trace.ocpi_response(T0, "ocpi2.2.1", "cpo-a", "emsp", request, HttpResponse(200, {}, body))
    trace.ocpi_response(
        T0, "ocpi2.2.1", "cpo-a", "emsp", request, HttpResponse(503, {}, "Service\nUnavailable")
    )
    trace.close()
    lines = (tmp_path / "trace.jsonl").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 3 and lines[2] == ""
    assert json.loads(lines[0])["body"] == json.loads(body)
    assert json.loads(lines[1])["body"] == "Service\nUnavailable"  # not JSON: kept as a string


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="full, ocpi, off"):
        WireTrace(tmp_path / "trace.jsonl", "ocpp")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "moment",
    [
        T0,
        T0 + timedelta(microseconds=999),  # under a millisecond: format_utc writes .000
        T0 + timedelta(milliseconds=7, microseconds=999),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 5, 1, tzinfo=timezone(timedelta(hours=2))),  # not UTC: converted
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    ],
)
def test_line_times_are_format_utc(tmp_path: Path, moment: datetime) -> None:
    trace = WireTrace(tmp_path / "trace.jsonl")
    trace.ocpp(moment, "ocpp1.6", "CS1", "cpo-a", "[]")
    trace.close()
    assert json.loads((tmp_path / "trace.jsonl").read_text(encoding="utf-8"))["t"] == format_utc(moment)


def test_a_naive_time_is_refused(tmp_path: Path) -> None:
    trace = WireTrace(tmp_path / "trace.jsonl")
    with pytest.raises(ValueError, match="naive"):
        trace.ocpp(datetime(2026, 3, 2, 7, 0), "ocpp1.6", "CS1", "cpo-a", "[]")

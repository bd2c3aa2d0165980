"""A CDR or Session the spec cannot describe is refused at the door (2001), in every version.

Review findings: a negative duration volume, an end before the start, a charging period outside the
CDR's window, a lowercase currency were accepted (201/1000) and later priced as a negative or null
invoice line. Negative ENERGY stays accepted from 2.2.1 on: the spec defines it as energy fed back
to the grid (mod_cdrs CdrDimensionType); 2.1.1 has no such notion and refuses it.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import cdr, session
from test_versions_e2e import cdr_211, session_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

D = Decimal
EARLY = "2025-03-01T08:00:00Z"  # before every test object's start (09:00)
LATE = "2025-03-01T11:00:00Z"  # after every test CDR's end (10:00)


def with_dimension(body: dict[str, Any], kind: str, volume: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["charging_periods"][0]["dimensions"].append({"type": kind, "volume": D(volume)})
    return out


def with_period_start(body: dict[str, Any], start: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["charging_periods"][0]["start_date_time"] = start
    return out


def cdr_221(**changes: Any) -> dict[str, Any]:
    return cdr(session_id=None, **changes)


def cdr_230(**changes: Any) -> dict[str, Any]:
    return cdr(session_id=None, total_cost={"before_taxes": D("3.15")}, **changes)


CDRS = {"2.1.1": cdr_211, "2.2.1": cdr_221, "2.3.0": cdr_230}
END = {"2.1.1": "stop_date_time", "2.2.1": "end_date_time", "2.3.0": "end_date_time"}
SESSIONS = {"2.1.1": session_211, "2.2.1": session, "2.3.0": session}
SESSION_END = {"2.1.1": "end_datetime", "2.2.1": "end_date_time", "2.3.0": "end_date_time"}
VERSIONS = list(CDRS)

# (case, version, body maker, expected: None = accepted, else a piece of the 2001 message)
CDR_CASES: list[tuple[str, str, Any, str | None]] = []
for v in VERSIONS:
    make, end = CDRS[v], END[v]
    CDR_CASES += [
        ("valid", v, lambda m=make: m(), None),
        (
            "time-negative",
            v,
            lambda m=make: with_dimension(m(), "TIME", "-0.5"),
            "TIME volume must not be negative",
        ),
        ("parking-negative", v, lambda m=make: with_dimension(m(), "PARKING_TIME", "-1"), "PARKING_TIME"),
        ("flat-negative", v, lambda m=make: with_dimension(m(), "FLAT", "-1"), "FLAT volume"),
        (
            "end-before-start",
            v,
            lambda m=make, e=end: m(**{e: EARLY}),
            f"{end} 2025-03-01T08:00:00+00:00 is before",
        ),
        ("end-equals-start", v, lambda m=make, e=end: m(**{e: "2025-03-01T09:00:00Z"}), None),
        (
            "period-before-start",
            v,
            lambda m=make: with_period_start(m(), EARLY),
            "charging_periods[0].start_date_time",
        ),
        ("period-after-end", v, lambda m=make: with_period_start(m(), LATE), "is outside"),
        ("period-at-end", v, lambda m=make: with_period_start(m(), "2025-03-01T10:00:00Z"), None),
        ("unknown-end-epoch", v, lambda m=make, e=end: m(**{e: "1970-01-01T00:00:00Z"}), None),
        ("parking-over-total", v, lambda m=make: m(total_parking_time=D("1.5")), "exceeds total_time"),
        ("parking-within-total", v, lambda m=make: m(total_parking_time=D("1.0")), None),
        ("currency-lowercase", v, lambda m=make: m(currency="eur"), "ISO 4217"),
        ("currency-digits", v, lambda m=make: m(currency="E1R"), "ISO 4217"),
    ]
CDR_CASES += [
    # 2.2.1 and 2.3.0 define negative ENERGY (fed back to the grid) and a SoC of 0..100.
    ("energy-negative", "2.1.1", lambda: with_dimension(cdr_211(), "ENERGY", "-7.4"), "ENERGY volume"),
    ("max-current-negative", "2.1.1", lambda: with_dimension(cdr_211(), "MAX_CURRENT", "-1"), "MAX_CURRENT"),
    ("energy-negative-v2g", "2.2.1", lambda: with_dimension(cdr_221(), "ENERGY", "-7.4"), None),
    ("energy-negative-v2g", "2.3.0", lambda: with_dimension(cdr_230(), "ENERGY", "-7.4"), None),
    ("import-negative", "2.2.1", lambda: with_dimension(cdr_221(), "ENERGY_IMPORT", "-1"), "IMPORT"),
    ("reservation-negative", "2.3.0", lambda: with_dimension(cdr_230(), "RESERVATION_TIME", "-1"), "RES"),
    ("soc-over-100", "2.2.1", lambda: with_dimension(cdr_221(), "STATE_OF_CHARGE", "101"), "0 to 100"),
    ("soc-100", "2.2.1", lambda: with_dimension(cdr_221(), "STATE_OF_CHARGE", "100"), None),
    ("currency-xxx", "2.2.1", lambda: cdr_221(currency="XXX"), None),  # an ISO 4217 code
]  # fmt: skip


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings())


def _check(resp: Any, expected: str | None) -> None:
    answer = resp.json()
    if expected is None:
        assert answer["status_code"] == 1000, answer
    else:
        assert answer["status_code"] == 2001, answer
        assert expected in answer["status_message"], answer


@pytest.mark.parametrize(
    ("version", "make", "expected"),
    [pytest.param(v, m, e, id=f"{v}-{case}") for case, v, m, e in CDR_CASES],
)
def test_cdr_bounds(core: EmspCore, version: str, make: Any, expected: str | None) -> None:
    cpo = register_as(core, version)
    resp = cpo.call("POST", "cdrs", make())
    _check(resp, expected)
    assert len(core.records().cdrs) == (0 if expected else 1)  # refused: nothing stored or billed


SESSION_CASES: list[tuple[str, str, dict[str, Any], str | None]] = []
for v in VERSIONS:
    make, end = SESSIONS[v], SESSION_END[v]
    SESSION_CASES += [
        ("end-before-start", v, {end: EARLY, "status": "COMPLETED"}, "is before"),
        ("end-after-start", v, {end: LATE, "status": "COMPLETED"}, None),
        ("period-time-negative", v, {"charging_periods": [{"start_date_time": "2025-03-01T09:00:00Z",
                                     "dimensions": [{"type": "TIME", "volume": D("-1")}]}]}, "TIME volume"),
        ("currency-lowercase", v, {"currency": "eur"}, "ISO 4217"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "changes", "expected"),
    [pytest.param(v, c, e, id=f"{v}-{case}") for case, v, c, e in SESSION_CASES],
)
def test_session_put_bounds(
    core: EmspCore, version: str, changes: dict[str, Any], expected: str | None
) -> None:
    cpo = register_as(core, version)
    resp = cpo.call("PUT", "sessions/DE/CPA/S1", SESSIONS[version](**changes))
    _check(resp, expected)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_session_patch_ending_before_its_start_is_refused(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    assert cpo.call("PUT", "sessions/DE/CPA/S1", SESSIONS[version]()).json()["status_code"] == 1000
    patch = {SESSION_END[version]: EARLY, "status": "COMPLETED", "last_updated": "2025-03-01T09:30:00Z"}
    _check(cpo.call("PATCH", "sessions/DE/CPA/S1", patch), "is before")
    (stored,) = core.records().sessions
    assert stored.status == "ACTIVE"  # the refused PATCH changed nothing

"""Conformance cases, each tagged with the OCA test-case id whose behaviour it exercises, or named
after the requirement when no official id could be confirmed.

Ids: 1.6 `TC_<nnn>[_n]_CS` (the charge point is under test) / `TC_<nnn>[_n]_CSMS` (the central
system is), as the OCA 1.6 test tool's test-case document numbers them; 2.0.1 `TC_<block>_<nn>_CS|CSMS`
as OCPP 2.0.1 part 6 does. Only ids checked against those lists are used; every other case is named
`REQ_<reference>_<what>_CS|CSMS` after the requirement it exercises (a 1.6 section such as 5.2, `SEC`
for the 1.6 security whitepaper, a 2.0.1 use case such as G03), and its docstring says so. Each case
is written from the specs' behaviour (not from the OCA test tool's scripts) and covers what the bench
can observe; a case's docstring says what of the official case it leaves out. A pass here is not a
certification.

`sut` is the role under test: "csms" (the bench plays a station that connects to it) or "station"
(the bench plays the CSMS the station connects to). `messages` lists what each case exchanges as
(action, direction): the coverage table (bench/conformance/coverage.py) is built from them.

Registration order is run order (the station role runs its cases in sequence on one connection).
"""

from __future__ import annotations

from bench.conformance import cases_csms, cases_station, cases_station_device, cases_station_upkeep
from bench.conformance.peer import CaseFailed
from bench.conformance.registry import CASES, DOWN, UP, Case, CsmsSide, StationSide, Sut, cases_for

# Registration order is run order: the station role's core cases (ending with the Reset), then local
# lists and reservations, then device/diagnostics/security/firmware (its UpdateFirmware last of all).
for _module in (cases_csms, cases_station, cases_station_upkeep, cases_station_device):
    _module.register()

__all__ = [
    "CASES",
    "DOWN",
    "UP",
    "Case",
    "CaseFailed",
    "CsmsSide",
    "StationSide",
    "Sut",
    "cases_csms",
    "cases_for",
    "cases_station",
    "cases_station_device",
    "cases_station_upkeep",
]

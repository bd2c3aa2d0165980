"""Admission at the mock CSMS (review4 G5): only a station whose last BootNotification was Accepted
is served, or one that has not booted here and the policy admits. A Rejected one (serve csms
`unknown: accept_listed`) or an unbooted one the policy refuses gets
CALLERROR SecurityError for every other request (OCPP 2.0.1 B02.FR.09 / B03.FR.07; OCPP-J 1.6 §4.2.3
defines the same code) and nothing is recorded: no authorization asked, no transaction started."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from csms_boot import BOOT

from simulators.cpo.csms import Csms
from simulators.cpo.events import StationBooted
from simulators.ocppj import OcppVersion

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
AT = "2026-03-02T07:00:00Z"
TOKEN201 = {"idToken": "GOODTAG", "type": "ISO14443"}

# What an unadmitted station tries, per version: each must be refused.
REQUESTS: dict[OcppVersion, list[tuple[str, dict[str, Any]]]] = {
    "1.6": [
        ("Authorize", {"idTag": "GOODTAG"}),
        ("StartTransaction", {"connectorId": 1, "idTag": "GOODTAG", "meterStart": 0, "timestamp": AT}),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}),
        ("Heartbeat", {}),
        ("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": AT}),
    ],
    "2.0.1": [
        ("Authorize", {"idToken": TOKEN201}),
        (
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": AT,
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "TX9"},
                "evse": {"id": 1, "connectorId": 1},
                "idToken": TOKEN201,
            },
        ),
        ("Heartbeat", {}),
    ],
}
CASES = [(v, action, payload) for v, requests in REQUESTS.items() for action, payload in requests]


def _send(csms: Csms, station: str, uid: str, action: str, payload: dict[str, Any]) -> tuple[list[Any], Any]:
    out = csms.on_frame(station, json.dumps([2, uid, action, payload]), T0)
    [(_sid, text)] = out.frames
    return json.loads(text), out


def _boot(csms: Csms, station: str, version: OcppVersion) -> str:
    answer, _out = _send(csms, station, "boot", "BootNotification", BOOT[version])
    return str(answer[2]["status"])


@pytest.mark.parametrize("local_policy", [True, False])  # False: Authorize waits for the OCPI side
@pytest.mark.parametrize(("version", "action", "payload"), CASES)
@pytest.mark.parametrize("booted", ["Rejected", "never"])
def test_an_unadmitted_station_is_refused_and_nothing_is_recorded(
    booted: str, version: OcppVersion, action: str, payload: dict[str, Any], local_policy: bool
) -> None:
    csms = Csms(
        "csms",
        authorize=(lambda token: True) if local_policy else None,
        accept_boot=lambda station: station == "CP-OK",
    )
    csms.on_connected("CP-NOTLISTED", version, T0)
    if booted == "Rejected":
        assert _boot(csms, "CP-NOTLISTED", version) == "Rejected"
    answer, out = _send(csms, "CP-NOTLISTED", "x", action, payload)
    assert answer[:3] == [4, "x", "SecurityError"]
    assert out.events == []  # no AuthorizationRequested, TransactionStarted, status...
    assert out.notes == [
        f"{action} refused (SecurityError): the station is not admitted here (its boot was Rejected, "
        "or it has not booted and the admission policy refuses it)"
    ]


@pytest.mark.parametrize(("version", "action", "payload"), CASES)
@pytest.mark.parametrize("listed", [None, {"CP-1"}])  # None: no admission list (every station)
def test_a_station_the_policy_admits_is_served_without_a_boot_seen_here(
    version: OcppVersion, action: str, payload: dict[str, Any], listed: set[str] | None
) -> None:
    """A station that booted with an earlier CSMS process and reconnects does not boot again
    (1.6 §4.2): locking it out until someone resets it would be stricter than any real CSMS."""
    csms = Csms(
        "csms",
        authorize=lambda token: True,
        accept_boot=None if listed is None else (lambda station: station in listed),
    )
    csms.on_connected("CP-1", version, T0)
    answer, out = _send(csms, "CP-1", "x", action, payload)
    assert answer[:2] == [3, "x"]
    assert out.notes[:1] == ["served without a BootNotification seen here: its admission policy accepts it"]
    answer, out = _send(csms, "CP-1", "y", "Heartbeat", {})
    assert answer[:2] == [3, "y"] and out.notes == []  # said once


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_admission_follows_the_last_boot_and_outlives_a_reconnection(version: OcppVersion) -> None:
    listed = {"CP-1"}
    csms = Csms("csms", authorize=lambda token: True, accept_boot=lambda station: station in listed)
    action, payload = REQUESTS[version][1]  # the transaction's start
    csms.on_connected("CP-2", version, T0)
    assert _boot(csms, "CP-2", version) == "Rejected"
    listed.add("CP-2")  # the operator lists it: its next boot is Accepted
    answer, out = _send(csms, "CP-2", "b2", "BootNotification", BOOT[version])
    assert answer[2]["status"] == "Accepted" and isinstance(out.events[0], StationBooted)
    csms.on_connected("CP-2", version, T0)  # a reconnection does not boot again (1.6 §4.2)
    answer, out = _send(csms, "CP-2", "s", action, payload)
    assert answer[:2] == [3, "s"] and [type(e).__name__ for e in out.events] == ["TransactionStarted"]
    listed.discard("CP-2")  # unlisted and rebooted: Rejected, refused again
    assert _boot(csms, "CP-2", version) == "Rejected"
    answer, _out = _send(csms, "CP-2", "h", "Heartbeat", {})
    assert answer[:3] == [4, "h", "SecurityError"]

"""Endpoint URLs stored before the handshake checked them (emsp.ocpi.urls) are never called.

A partner registered by an older eMSP may hold a malformed URL, one that is not http(s), or one
into our own API. Its registration stays; such an endpoint counts as absent (no push, no pull, a
command refused naming why) and the startup scan logs each one (emsp.ocpi.endpoints)."""

from __future__ import annotations

import pytest
import structlog
from emsp_helpers import CPO_V221, T0, V, location, register

from emsp.core import EmspCore, EmspSettings
from emsp.model import CommandRequest
from emsp.ocpi.command_send import CommandRefused
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps

OURS = "http://emsp.local/ocpi/2.2.1/tokens"  # EmspSettings' default base_url: this eMSP itself
STALE = [
    {"identifier": "tokens", "role": "RECEIVER", "url": OURS},
    {"identifier": "commands", "role": "RECEIVER", "url": "http://[::1/commands"},
    {"identifier": "locations", "role": "SENDER", "url": "ftp://cpo.test/locations"},
    {"identifier": "tariffs", "role": "SENDER", "url": f"{CPO_V221}/tariffs"},  # usable: still pulled
]


def _stale_partner() -> EmspCore:
    emsp = EmspCore(EmspSettings(pull_initial=False))
    cpo = register(emsp)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location("LOC1")).json()["status_code"] == 1000
    with emsp.db.unit() as db:  # as an older eMSP stored it, before the handshake's URL checks
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.endpoints_json = dumps(STALE)
    emsp.pending_requests()
    return emsp


def test_the_startup_scan_names_each_refused_endpoint() -> None:
    emsp = _stale_partner()
    with structlog.testing.capture_logs() as logs:
        refused = emsp.refused_endpoints()
    assert [(p, m, u) for p, m, u, _why in refused] == [
        ("cpo1", "tokens", OURS),
        ("cpo1", "commands", "http://[::1/commands"),
        ("cpo1", "locations", "ftp://cpo.test/locations"),
    ]
    assert [why for *_, why in refused] == [
        "the URL points at this eMSP itself",
        "the URL is malformed",
        "the URL is not http(s)",
    ]
    assert [e["module"] for e in logs if e["event"] == "partner_endpoint_refused"] == [
        "tokens",
        "commands",
        "locations",
    ]


def test_a_refused_endpoint_is_never_called() -> None:
    emsp = _stale_partner()
    emsp.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=T0)
    assert emsp.push_token("RFID1", "RFID") == []  # not pushed to our own API
    with pytest.raises(CommandRefused, match="commands endpoint is not used: the URL is malformed"):
        emsp.send_command(CommandRequest(kind="START_SESSION", location_id="LOC1", evse_uid="EVSE1"), now=T0,
                          token_uid="RFID1")  # fmt: skip
    emsp.pull_from("cpo1", T0)
    urls = [o.request.url for o in emsp.pending_requests()]
    assert urls and all(u.startswith(f"{CPO_V221}/tariffs") for u in urls)  # the usable one only

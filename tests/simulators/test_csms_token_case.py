"""Token uids ignore case at the mock CSMS as at the eMSP (idTag: 1.6 CiString20; idToken: 2.0.1
"case insensitive"; OCPI Token.uid: CiString): a decision about a token holds for every spelling."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from csms_boot import connect_booted

from simulators.cpo.csms import Csms
from simulators.cpo.events import AuthorizationRequested

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def test_a_start_spelling_the_authorized_token_in_another_case_is_that_token() -> None:
    """idTag (1.6 CiString20) and idToken ignore case, as the eMSP's Token.uid does: the OCPI side's
    answer for "abc001" is the answer for a start with "ABC001"."""
    csms = Csms("cpo-a")  # no local policy: Authorize waits for the OCPI side
    connect_booted(csms, "CS-1", "1.6", T0)
    out = csms.on_frame("CS-1", json.dumps([2, "a", "Authorize", {"idTag": "abc001"}]), T0)
    [held] = out.events
    assert isinstance(held, AuthorizationRequested)
    csms.on_authorization(held.ref, True, T0)
    start = {"connectorId": 1, "idTag": "ABC001", "meterStart": 0, "timestamp": "2026-03-02T07:00:00Z"}
    out = csms.on_frame("CS-1", json.dumps([2, "s", "StartTransaction", start]), T0)
    [(_sid, text)] = out.frames
    assert json.loads(text)[2]["idTagInfo"] == {"status": "Accepted"}

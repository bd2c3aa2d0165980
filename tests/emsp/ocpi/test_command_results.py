"""CommandResults on our response_urls (`{commands}/{command}/{id}`), review F2 and F6.

- An id that is no id we gave is 404 / 2001 "unknown command", whatever it looks like: digits
  `int()` refuses ('²') and ids beyond a 64-bit key were a server error (HTTP 500, 3000).
- The first CommandResult is final (mod_commands: one result per command request): the same one
  again is answered 1000 and changes nothing; a different one is answered 1000, not taken, and
  recorded as the partner's finding `command_result_changed`."""

from __future__ import annotations

from typing import Any

import emsp_helpers
import pytest
from emsp_helpers import CPO_V221, Client, V, location, register

from emsp.core import EmspCore, EmspSettings
from emsp.model import CommandRequest

ENDPOINTS = [
    {"identifier": "tokens", "role": "RECEIVER", "url": f"{CPO_V221}/tokens"},
    {"identifier": "commands", "role": "RECEIVER", "url": f"{CPO_V221}/commands"},
]


def _world(monkeypatch: pytest.MonkeyPatch) -> tuple[EmspCore, Client, dict[str, Any]]:
    """A registered 2.2.1 CPO with one Location, and one START_SESSION it ACCEPTED."""
    monkeypatch.setattr(emsp_helpers, "CPO_ENDPOINTS", ENDPOINTS)
    emsp = EmspCore(EmspSettings(pull_initial=False))
    cpo = register(emsp)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location("LOC1")).json()["status_code"] == 1000
    emsp.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=emsp_helpers.T0)
    emsp.pending_requests()  # the token push: not what this test is about
    request = CommandRequest(kind="START_SESSION", location_id="LOC1", evse_uid="EVSE1")
    view = emsp.send_command(request, now=emsp_helpers.T0, token_uid="RFID1")
    [sent] = [o for o in emsp.pending_requests() if o.request.method == "POST"]
    emsp.on_response(
        sent.request_id, emsp_helpers.ocpi_ok({"result": "ACCEPTED", "timeout": 30}), emsp_helpers.T0
    )
    return emsp, cpo, view


@pytest.mark.parametrize("command_id", ["²", "١", "1" * 31, str(2**63), "-1", "0x1", " 1"])
def test_an_id_we_never_gave_is_unknown_command(monkeypatch: pytest.MonkeyPatch, command_id: str) -> None:
    emsp, cpo, view = _world(monkeypatch)
    answer = cpo.call("POST", f"{V}/commands/START_SESSION/{command_id}", {"result": "ACCEPTED"})
    assert (answer.status, answer.json()["status_code"]) == (404, 2001), answer.body
    assert answer.json()["status_message"] == "unknown command"
    assert emsp.command(view["id"])["state"] == "ACCEPTED"  # type: ignore[index]


def test_the_largest_key_is_still_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    _emsp, cpo, _view = _world(monkeypatch)
    answer = cpo.call("POST", f"{V}/commands/START_SESSION/{2**63 - 1}", {"result": "ACCEPTED"})
    assert (answer.status, answer.json()["status_code"]) == (404, 2001), answer.body


def test_the_first_command_result_is_final(monkeypatch: pytest.MonkeyPatch) -> None:
    emsp, cpo, view = _world(monkeypatch)
    url = f"{V}/commands/START_SESSION/{view['id']}"
    assert cpo.call("POST", url, {"result": "ACCEPTED"}).json()["status_code"] == 1000
    first = emsp.command(view["id"])
    assert first is not None and (first["state"], first["result"]) == ("COMPLETED", "ACCEPTED")
    # the same result again (a retried POST): answered, nothing changes, nothing noted
    assert cpo.call("POST", url, {"result": "ACCEPTED"}).json()["status_code"] == 1000
    assert emsp.command(view["id"]) == first
    assert emsp.records().findings == ()
    # another result: answered, not taken, recorded against the command's party
    assert cpo.call("POST", url, {"result": "REJECTED"}).json()["status_code"] == 1000
    assert emsp.command(view["id"]) == first
    (finding,) = emsp.records().findings
    assert (finding.partner, finding.party.key(), finding.kind) == (
        "cpo1",
        "DE*CPA",
        "command_result_changed",
    )
    assert (finding.module, finding.object_id) == ("commands", str(view["id"]))
    assert "REJECTED after ACCEPTED" in finding.detail

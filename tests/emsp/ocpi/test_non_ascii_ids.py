"""A non-ASCII token uid (OCPI 2.2.1 Token.uid is a CiString(36): printable ASCII) is 2001 with the
module's message on every path, also when the character is not printable (a no-break space, a
zero-width space, a C1 control): before, those were 404/2000 "unknown endpoint" from the router.
ASCII control characters (a %00) still name no resource (test_input_limits)."""

from __future__ import annotations

import pytest
from emsp_helpers import Client, V, register, session
from test_hub_channels import _hub, info

from emsp.core import EmspCore, EmspSettings

CISTRING = "token_uid must be a CiString(36): 1 to 36 printable ASCII characters"
NON_ASCII = ["t%C3%B6k%C3%A9n", "RFID%C2%A0", "%E2%80%8BRFID", "RFID%C2%85", "R%E2%80%A8F"]


@pytest.fixture
def cpo() -> Client:
    return register(EmspCore(EmspSettings(pull_initial=False)))


@pytest.mark.parametrize("uid", NON_ASCII)
def test_authorize_of_a_non_ascii_uid_is_2001_saying_why(cpo: Client, uid: str) -> None:
    answer = cpo.call("POST", f"{V}/tokens/{uid}/authorize")
    assert answer.json()["status_code"] == 2001 and answer.json()["status_message"] == CISTRING
    assert answer.status == 200


@pytest.mark.parametrize("object_id", ["S%C2%A0", "S%E2%80%8B"])
def test_a_non_ascii_object_id_is_2001_naming_the_id_type(cpo: Client, object_id: str) -> None:
    answer = cpo.call("PUT", f"{V}/sessions/DE/CPA/{object_id}", session(object_id))
    assert (answer.status, answer.json()["status_code"]) == (404, 2001)
    assert "invalid id in the URL" in answer.json()["status_message"]


def test_a_non_ascii_party_in_hubclientinfo_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    emsp = EmspCore(EmspSettings(pull_initial=False))
    hub = _hub(emsp, monkeypatch)
    answer = hub.call("PUT", f"{V}/hubclientinfo/D%C2%A0/HBA", info("D\u00a0", "HBA", "OFFLINE"))
    assert (answer.status, answer.json()["status_code"]) == (404, 2001)
    assert hub.call("GET", f"{V}/hubclientinfo/D%C2%A0/HBA").json()["status_code"] == 2001

"""An ended Session stays ended and stays the driver's (review r7 K9). SessionStatus COMPLETED and
INVALID make no more changes to it, and cdr_token names who charged (2.2.1 mod_sessions): a PUT or
PATCH that reopens it, or moves it to another token, is refused 2001 and nothing is stored. Late
updates that keep it ended still apply in order, as before."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, register, session
from test_versions_e2e import session_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

U = f"{V}/sessions/DE/CPA/S2"
ENDED = {"status": "COMPLETED", "end_date_time": "2025-03-01T10:00:00Z", "kwh": 12}


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


@pytest.fixture
def cpo(core: EmspCore) -> Client:
    cpo = register(core)
    done = session("S2", **ENDED, last_updated="2025-03-01T10:00:00Z")
    assert cpo.call("PUT", U, done).json()["status_code"] == 1000
    return cpo


def _other_token(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"cdr_token": body["cdr_token"] | {"uid": "OTHER", "contract_id": "NL-EMS-C00000009-X"}}


def _stored(core: EmspCore) -> tuple[str, str, str]:
    (s,) = core.records().sessions
    return s.status, s.token_uid, s.contract_id


KEPT = ("COMPLETED", "RFID1", "NL-EMS-C00000001-X")
LATER = "2025-03-01T10:05:00Z"


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("PUT", session("S2", last_updated=LATER), "status"),
        ("PUT", _other_token(session("S2", **ENDED, last_updated=LATER)), "cdr_token"),
        ("PUT", _other_token(session("S2", last_updated=LATER)), "status"),
        ("PATCH", {"status": "ACTIVE", "last_updated": LATER}, "status"),
        ("PATCH", {"cdr_token": _other_token(session())["cdr_token"], "last_updated": LATER}, "cdr_token"),
    ],
    ids=["put-reopen", "put-token", "put-both", "patch-reopen", "patch-token"],
)
def test_an_ended_session_is_not_reopened_nor_moved(
    core: EmspCore, cpo: Client, method: str, body: dict[str, Any], field: str
) -> None:
    answer = cpo.call(method, U, body)
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert f"'{field}'" in answer.json()["status_message"]
    assert _stored(core) == KEPT
    assert cpo.call("GET", U).json()["data"]["end_date_time"] == "2025-03-01T10:00:00Z"


def test_a_late_update_that_keeps_it_ended_still_applies(core: EmspCore, cpo: Client) -> None:
    assert cpo.call("PUT", U, session("S2", **ENDED | {"kwh": 13}, last_updated=LATER)).status == 200
    assert cpo.call("PATCH", U, {"status": "INVALID", "last_updated": "2025-03-01T10:06:00Z"}).status == 200
    (s,) = core.records().sessions
    assert (s.status, s.kwh) == ("INVALID", 13)


def test_211_an_ended_session_is_not_reopened(core: EmspCore) -> None:
    cpo = register_as(core, "2.1.1")
    done = session_211(id="S2", status="COMPLETED", end_datetime="2025-03-01T10:00:00Z", kwh=12)
    assert cpo.call("PUT", "sessions/DE/CPA/S2", done).status == 201
    again = session_211(id="S2", auth_id="NL-EMS-C00000009-X", status="COMPLETED", last_updated=LATER)
    answer = cpo.call("PUT", "sessions/DE/CPA/S2", again)
    assert answer.json()["status_code"] == 2001, answer.body
    reopened = session_211(id="S2", last_updated=LATER)
    assert cpo.call("PUT", "sessions/DE/CPA/S2", reopened).json()["status_code"] == 2001
    (s,) = core.records().sessions
    assert s.status == "COMPLETED"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_211_a_late_update_is_judged_on_what_the_cpo_sent(core: EmspCore, method: str) -> None:
    """2.1.1 sends no token uid: ours is looked up from the auth_id per request, and moves once we
    issue a token for that contract after the session was stored. The CPO's auth_id (any case:
    CiString) is unchanged, so the late update applies, on the token the session was stored with
    (review r8 L1)."""
    cpo = register_as(core, "2.1.1")
    contract = "NL-EMS-C00000077-X"
    done = {"id": "S7", "auth_id": contract, "status": "COMPLETED", "end_datetime": "2025-03-01T10:00:00Z"}
    assert cpo.call("PUT", "sessions/DE/CPA/S7", session_211(**done, kwh=12)).status == 201
    core.issue_token("RFID77", contract_id=contract, now=datetime(2025, 3, 1, 10, 1, tzinfo=UTC))
    late = {"kwh": 12.5, "last_updated": LATER}
    body = late if method == "PATCH" else session_211(**done | {"auth_id": contract.lower()}, **late)
    answer = cpo.call(method, "sessions/DE/CPA/S7", body)
    assert answer.json()["status_code"] == 1000, answer.body
    (s,) = core.records().sessions
    assert (s.kwh, s.token_uid) == (Decimal("12.5"), contract)  # not moved to RFID77


def test_a_late_put_may_not_change_the_token_type(core: EmspCore, cpo: Client) -> None:
    """cdr_token is uid and type (2.2.1 mod_tokens: the pair names a Token): another type is another
    token. The uid in another case is the same one (CiString)."""
    body = session("S2", **ENDED, last_updated=LATER)
    other_type = body | {"cdr_token": body["cdr_token"] | {"type": "APP_USER"}}
    answer = cpo.call("PUT", U, other_type)
    assert (answer.json()["status_code"], "'cdr_token'" in answer.json()["status_message"]) == (2001, True)
    same = body | {"cdr_token": body["cdr_token"] | {"uid": body["cdr_token"]["uid"].lower()}, "kwh": 13}
    assert cpo.call("PUT", U, same).json()["status_code"] == 1000
    (s,) = core.records().sessions
    assert (s.token_uid, s.kwh) == ("RFID1", 13)

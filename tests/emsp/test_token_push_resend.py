"""When a waiting Token push is sent again (review6 J1): a Retry-After of any length is read
within its bound."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from emsp_helpers import T0, register

from emsp.call_retries import RETRY_MAX, retry_after
from emsp.core import EmspCore, EmspSettings
from emsp.storage.tables import PartnerRow, PendingCallRow
from emsp.wire import HttpResponse, OutboundRequest, dumps, loads

V221 = "http://cpo1.test/ocpi/2.2.1/tokens/"
V211 = "http://cpo1.test/ocpi/2.1.1/tokens/"
NO_ANSWER = HttpResponse(599, {}, None)
OK = HttpResponse(200, {}, dumps({"status_code": 1000}))


@pytest.fixture
def settings(tmp_path: Path) -> EmspSettings:
    return EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")


def tokens_receiver(core: EmspCore, version: str, url: str) -> None:
    """The partner's version and Tokens receiver (as a new registration or credentials PUT sets)."""
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.version = version
        row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": url}])


def started(settings: EmspSettings) -> EmspCore:
    core = EmspCore(settings)
    register(core)
    tokens_receiver(core, "2.2.1", V221)
    core.issue_token("TOK1", contract_id="NL-EMS-C1", now=T0)
    core.pending_requests()  # the handshake's calls
    return core


def pushes(core: EmspCore) -> list[OutboundRequest]:
    return [c for c in core.pending_requests() if c.request.method == "PUT"]


def stored(core: EmspCore) -> list[str]:
    with core.db.unit() as db:
        return [row.request_id for row in db.query(PendingCallRow).order_by(PendingCallRow.seq)]


def valid_of(call: OutboundRequest) -> bool:
    return bool(loads(call.request.body or "{}")["valid"])


def token_header(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


# ---- J1: Retry-After ----


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("9" * 5000, 600), ("601", 600), ("0000000000045", 45), ("1" + "0" * 4400, 600)],
    ids=["5000 digits", "past the bound", "leading zeros", "4401 digits"],
)
def test_a_retry_after_of_any_length_is_read_within_the_bound(text: str, seconds: int) -> None:
    assert retry_after({"Retry-After": text}) == timedelta(seconds=seconds)


def test_a_push_answered_with_a_huge_retry_after_is_sent_again_at_the_bound(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = pushes(core)
    core.on_response(call.request_id, HttpResponse(503, {"Retry-After": "9" * 5000}, None), T0)
    assert core.next_call_retry() == T0 + RETRY_MAX
    assert core.retry_due_calls(T0 + RETRY_MAX) == 1

"""When a waiting Token push is sent again (review6 J1-J4): a Retry-After of any length is read
within its bound; a newer push of the same token supersedes it whatever URL either went to, and one
built for a version or Tokens URL the partner no longer has is replaced by a push of the token's
current state; a refusal of credentials the partner replaced meanwhile is answered by one more send
with the current ones; a restored link sends the partner's waiting pushes at once."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from emsp_helpers import T0, stored_call_ids, token_pushes, tokens_receiver, with_pushed_token

from emsp.call_retries import RETRY_MAX, CallRetries, retry_after
from emsp.core import EmspCore, EmspSettings
from emsp.storage.tables import PartnerRow
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest, dumps, loads

V221 = "http://cpo1.test/ocpi/2.2.1/tokens/"
V211 = "http://cpo1.test/ocpi/2.1.1/tokens/"
NO_ANSWER = HttpResponse(599, {}, None)
OK = HttpResponse(200, {}, dumps({"status_code": 1000}))


@pytest.fixture
def settings(tmp_path: Path) -> EmspSettings:
    return EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")


def started(settings: EmspSettings) -> EmspCore:
    return with_pushed_token(EmspCore(settings))


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
    [call] = token_pushes(core)
    core.on_response(call.request_id, HttpResponse(503, {"Retry-After": "9" * 5000}, None), T0)
    assert core.next_call_retry() == T0 + RETRY_MAX
    assert core.retry_due_calls(T0 + RETRY_MAX) == 1


# ---- J2: superseding by token, pushes built for a former version ----


def test_a_newer_push_to_the_partners_new_url_supersedes_the_waiting_one(settings: EmspSettings) -> None:
    """Block (2.2.1, routed to the CPO party) waits; the partner moves to 2.1.1; the unblock goes to
    its 2.1.1 URL (the whole platform) and is taken: the block must never follow it."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    assert block.request.headers["OCPI-to-party-id"] == "CPA"
    core.on_response(block.request_id, NO_ANSWER, T0)
    tokens_receiver(core, "2.1.1", V211)
    core.set_token_valid("TOK1", "RFID", True, T0 + timedelta(seconds=1))
    [unblock] = token_pushes(core)
    assert unblock.request.url.startswith(V211) and valid_of(unblock)
    core.on_response(unblock.request_id, OK, T0 + timedelta(seconds=1))
    assert core.retry_due_calls(T0 + timedelta(hours=1)) == 0
    assert token_pushes(core) == [] and stored_call_ids(core) == []


def test_a_waiting_push_for_a_former_version_is_renewed_for_the_current_one(settings: EmspSettings) -> None:
    """No newer push: the block is sent again, but as the partner's current version wants it (its
    URL, body and credentials' encoding), never in the former version's form."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    core.on_response(block.request_id, NO_ANSWER, T0)
    tokens_receiver(core, "2.1.1", V211)
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 1
    [again] = token_pushes(core)
    assert again.request.url == f"{V211}NL/EMS/TOK1" and not valid_of(again)
    assert "country_code" not in loads(again.request.body or "{}")  # the 2.1.1 Token object
    assert again.request.headers["Authorization"] == "Token token-B-cpo1"  # 2.1.1: not base64
    assert stored_call_ids(core) == [again.request_id]  # the former one's row is gone


def test_after_a_restart_a_push_for_a_former_version_is_renewed(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    token_pushes(core)  # never answered: the process stops
    tokens_receiver(core, "2.1.1", V211)
    [again] = token_pushes(EmspCore(settings))
    assert again.request.url == f"{V211}NL/EMS/TOK1" and not valid_of(again)


def test_a_push_still_in_the_current_form_is_sent_again_as_it_was(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    core.on_response(block.request_id, NO_ANSWER, T0)
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 1
    [again] = token_pushes(core)
    assert (again.request_id, again.request.url, again.request.body) == (
        block.request_id,
        block.request.url,
        block.request.body,
    )


def put(n: int, url: str, party: str | None, token: str = "TOK1") -> OutboundRequest:
    headers = {} if party is None else {"OCPI-to-country-code": "DE", "OCPI-to-party-id": party}
    body = dumps({"uid": token, "type": "RFID", "n": n})
    return OutboundRequest(f"emsp-out-{n}", "cpo1", HttpRequest("PUT", f"{url}NL/EMS/{token}", headers, body))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (put(1, V221, "CPA"), put(2, V211, None)),  # party, then the whole platform
        (put(1, V211, None), put(2, V221, "CPA")),  # the whole platform, then a party
        (put(1, V221, "CPA"), put(2, V221.replace("cpo1", "new.cpo1"), "CPA")),  # moved URL
        (put(1, V221, "CPA"), put(2, V221, "CPA", token="tok1")),  # uid in another case
    ],
    ids=["to-platform", "to-party", "moved", "case"],
)
def test_a_later_push_of_the_same_token_supersedes_whatever_its_url(
    first: OutboundRequest, second: OutboundRequest
) -> None:
    retries = CallRetries()
    retries.queued(first, "token_push")
    retries.answered(first.request_id, 599, T0)
    retries.queued(second, "token_push")
    retries.answered(second.request_id, 200, T0)
    assert retries.take_due(T0 + timedelta(seconds=10)) == ([], [first.request_id])


def test_pushes_of_the_same_token_to_two_parties_stay_apart() -> None:
    retries = CallRetries()
    first, second = put(1, V221, "CPA"), put(2, V221, "CPB")
    for call in (first, second):
        retries.queued(call, "token_push")
    retries.answered(first.request_id, 599, T0)
    retries.answered(second.request_id, 200, T0)
    assert retries.take_due(T0 + timedelta(seconds=10)) == ([(first, "token_push")], [])


# ---- J3: refused with credentials the partner replaced ----


@pytest.mark.parametrize("status", [401, 403])
def test_a_push_refused_for_replaced_credentials_is_sent_once_more(
    settings: EmspSettings, status: int
) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    with core.db.unit() as db:  # the CPO rotates its credentials while the push is on the wire
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.token_b = "token-B-rotated"
    core.on_response(block.request_id, HttpResponse(status, {}, None), T0)
    [again] = token_pushes(core)
    assert again.request.headers["Authorization"] == token_header("token-B-rotated")
    assert not valid_of(again) and stored_call_ids(core) == [again.request_id]
    core.on_response(again.request_id, HttpResponse(status, {}, None), T0)  # refused again: final
    assert token_pushes(core) == [] and stored_call_ids(core) == [] and core.next_call_retry() is None


# ---- J4: link restored ----


def test_a_restored_link_sends_the_waiting_pushes_of_that_partner_now(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    now = T0
    for _ in range(8):  # a long outage: the backoff reaches its bound
        [call] = token_pushes(core)
        core.on_response(call.request_id, HttpResponse(503, {}, None), now)
        retry_at = core.next_call_retry()
        assert retry_at is not None
        now = retry_at
        core.retry_due_calls(now)
    [call] = token_pushes(core)
    core.on_response(call.request_id, NO_ANSWER, now)
    assert core.next_call_retry() == now + RETRY_MAX
    core.link_restored("other-partner", now + timedelta(seconds=5))
    assert token_pushes(core) == []  # another partner's link: nothing of cpo1's moves
    core.link_restored("cpo1", now + timedelta(seconds=5))
    [again] = token_pushes(core)
    assert again.request_id == call.request_id and not valid_of(again)
    assert core.next_call_retry() is None


def test_a_superseded_push_refused_for_replaced_credentials_is_not_sent_again(settings: EmspSettings) -> None:
    """The unblock queued after it carries the newer state: the block, sent again, would overwrite it."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    core.set_token_valid("TOK1", "RFID", True, T0)
    [unblock] = token_pushes(core)
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.token_b = "token-B-rotated"
    core.on_response(block.request_id, HttpResponse(401, {}, None), T0)
    assert token_pushes(core) == [] and stored_call_ids(core) == [unblock.request_id]

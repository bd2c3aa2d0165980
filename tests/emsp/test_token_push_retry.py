"""A stored Token push (emsp.pending_calls) carries the partner's credentials as they are when it is
(re-)sent, never as they were when it was queued; one that got no HTTP answer at all (599), or an
answer saying the receiver cannot take it now (502, 503, 504, 429), is sent again while the eMSP
runs, with a bounded backoff on the clock the runtime hands in (emsp.call_retries), and a later
push to the same place supersedes it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from emsp_helpers import T0, V, cpo_credentials, register, with_pushed_token
from emsp_helpers import TOKENS_RECEIVER as RECEIVER

from emsp.call_retries import RETRY_MAX, backoff
from emsp.core import EmspCore, EmspSettings
from emsp.core_thread import CoreThread
from emsp.service.run import pump_outbound
from emsp.storage.tables import PartnerRow, PendingCallRow
from emsp.wire import HttpResponse, OutboundRequest, dumps, loads

NO_ANSWER = HttpResponse(599, {}, None)
OK = HttpResponse(200, {}, dumps({"status_code": 1000}))


def token_header(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


@pytest.fixture
def settings(tmp_path: Path) -> EmspSettings:
    return EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")


def started(settings: EmspSettings) -> EmspCore:
    return with_pushed_token(EmspCore(settings))


def rotate(core: EmspCore, token_b: str) -> None:
    """The partner's credentials change (as a credentials PUT or a new registration would)."""
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.token_b = token_b


def stored_rows(core: EmspCore) -> list[PendingCallRow]:
    with core.db.unit() as db:
        rows = list(db.query(PendingCallRow).order_by(PendingCallRow.seq))
        db.expunge_all()
        return rows


def valid_of(call: OutboundRequest) -> bool:
    return bool(loads(call.request.body or "")["valid"])


def test_the_stored_push_keeps_no_credentials(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    assert call.request.headers["Authorization"] == token_header("token-B-cpo1")  # sent with them
    [row] = stored_rows(core)
    assert "authorization" not in {k.lower() for k in loads(row.headers_json)}


def test_a_push_sent_again_after_a_restart_carries_the_rotated_credentials(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    rotate(core, "token-B-rotated")
    core.db.engine.dispose()
    [call] = EmspCore(settings).pending_requests()
    assert call.request.headers["Authorization"] == token_header("token-B-rotated")
    assert call.request.headers["OCPI-from-party-id"] == "EMS" and not valid_of(call)


def test_a_push_stored_with_its_credentials_by_an_older_version_gets_the_current_ones(
    settings: EmspSettings,
) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    with core.db.unit() as db:  # as older versions stored it
        [row] = db.query(PendingCallRow).all()
        row.headers_json = dumps({**loads(row.headers_json), "Authorization": token_header("token-B-old")})
    core.db.engine.dispose()
    [call] = EmspCore(settings).pending_requests()
    assert call.request.headers["Authorization"] == token_header("token-B-cpo1")


def test_a_push_without_an_answer_is_sent_again_with_a_growing_bounded_wait(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    assert core.next_call_retry() is None
    core.on_response(call.request_id, NO_ANSWER, T0)
    assert core.next_call_retry() == T0 + timedelta(seconds=10)
    assert core.next_deadline() == T0 + timedelta(seconds=10)  # the served eMSP's pump wakes then
    assert core.retry_due_calls(T0 + timedelta(seconds=9)) == 0 and core.pending_requests() == []

    rotate(core, "token-B-rotated")  # meanwhile: the retry carries the credentials of its time
    at = T0 + timedelta(seconds=10)
    assert core.retry_due_calls(at) == 1
    [again] = core.pending_requests()
    assert again.request_id == call.request_id and again.request.body == call.request.body
    assert again.request.headers["Authorization"] == token_header("token-B-rotated")

    core.on_response(again.request_id, NO_ANSWER, at)
    assert core.next_call_retry() == at + timedelta(seconds=20)
    core.expire_overdue(at + timedelta(seconds=20))  # the served eMSP's way in
    [third] = core.pending_requests()
    core.on_response(third.request_id, OK, at + timedelta(seconds=21))
    assert core.next_call_retry() is None and stored_rows(core) == []


@pytest.mark.parametrize(
    "refusal",
    [
        HttpResponse(400, {}, None),
        HttpResponse(401, {}, None),
        HttpResponse(404, {}, None),
        HttpResponse(500, {}, None),
        HttpResponse(200, {}, dumps({"status_code": 2001, "status_message": "Invalid token"})),
    ],
    ids=["400", "401", "404", "500", "200 with OCPI 2001"],
)
def test_a_refused_push_is_not_sent_again(settings: EmspSettings, refusal: HttpResponse) -> None:
    """The receiver's verdict on this very request: sending it again would not change it."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, refusal, T0)
    assert core.next_call_retry() is None and stored_rows(core) == []
    assert core.retry_due_calls(T0 + timedelta(days=1)) == 0 and core.pending_requests() == []


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_a_push_the_receiver_cannot_take_now_is_sent_again(settings: EmspSettings, status: int) -> None:
    """A block made while the CPO's Tokens receiver is down (a gateway's 502/504, its own 503) or
    throttling (429) reaches the CPO once the receiver is back, as a push that got no answer does."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(status, {}, None), T0)
    assert core.next_call_retry() == T0 + timedelta(seconds=10)
    assert [r.request_id for r in stored_rows(core)] == [call.request_id]  # a restart sends it too
    at = T0 + timedelta(seconds=10)
    assert core.retry_due_calls(at) == 1
    [again] = core.pending_requests()
    assert again.request_id == call.request_id and not valid_of(again)
    core.on_response(again.request_id, HttpResponse(status, {}, None), at)
    assert core.next_call_retry() == at + timedelta(seconds=20)  # the same growing wait
    core.retry_due_calls(at + timedelta(seconds=20))
    [third] = core.pending_requests()
    core.on_response(third.request_id, OK, at + timedelta(seconds=21))
    assert core.next_call_retry() is None and stored_rows(core) == []


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("30", 30),
        (" 120 ", 120),
        ("1", 10),
        ("86400", 600),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 10),
        ("-5", 10),
    ],
)
def test_a_retry_after_in_seconds_is_the_least_wait_within_the_bound(
    settings: EmspSettings, retry_after: str, wait: int
) -> None:
    """Not sent before the receiver's Retry-After, nor more often than the backoff (a receiver
    saying "1" all through an outage), nor later than the 10 min bound; other forms: the backoff."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(503, {"retry-after": retry_after}, None), T0)
    assert core.next_call_retry() == T0 + timedelta(seconds=wait)


def test_a_superseded_push_the_receiver_could_not_take_is_not_sent_again(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [blocked] = core.pending_requests()
    core.set_token_valid("TOK1", "RFID", True, T0 + timedelta(seconds=1))
    [unblocked] = core.pending_requests()
    core.on_response(blocked.request_id, HttpResponse(503, {}, None), T0 + timedelta(seconds=2))
    assert core.next_call_retry() is None  # its block would undo the unblock sent after it
    assert [r.request_id for r in stored_rows(core)] == [unblocked.request_id]


def test_a_later_push_to_the_same_place_supersedes_a_failed_one(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [blocked] = core.pending_requests()
    core.on_response(blocked.request_id, NO_ANSWER, T0)
    core.set_token_valid("TOK1", "RFID", True, T0 + timedelta(seconds=1))
    [unblocked] = core.pending_requests()
    assert valid_of(unblocked)
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 0  # its block would undo the unblock
    assert core.pending_requests() == [] and [r.request_id for r in stored_rows(core)] == [
        unblocked.request_id
    ]
    # A failure of the superseded one while in flight is not retried either.
    core.on_response(unblocked.request_id, NO_ANSWER, T0 + timedelta(seconds=11))
    core.block_token("TOK1", now=T0 + timedelta(seconds=12))
    [blocked_again] = core.pending_requests()
    assert core.retry_due_calls(T0 + timedelta(minutes=1)) == 0
    core.on_response(blocked_again.request_id, OK, T0 + timedelta(minutes=1))
    assert stored_rows(core) == [] and core.next_call_retry() is None


def test_after_a_restart_only_the_latest_push_to_a_place_is_sent(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    core.set_token_valid("TOK1", "RFID", True, T0 + timedelta(seconds=1))
    core.db.engine.dispose()
    restarted = EmspCore(settings)
    [call] = restarted.pending_requests()
    assert valid_of(call) and len(stored_rows(restarted)) == 1


def test_a_push_to_a_partner_no_longer_registered_is_dropped(settings: EmspSettings) -> None:
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, NO_ANSWER, T0)
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.registered = False
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 0
    assert core.pending_requests() == [] and stored_rows(core) == []


def test_the_wait_doubles_from_ten_seconds_up_to_its_bound() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff(10_000) == RETRY_MAX


def test_a_credentials_put_by_the_partner_reaches_the_retry(settings: EmspSettings) -> None:
    core = EmspCore(settings)
    cpo = register(core)
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": RECEIVER}])
    core.issue_token("TOK1", contract_id="NL-EMS-C1", now=T0)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, NO_ANSWER, T0)
    resp = cpo.call("PUT", f"{V}/credentials", cpo_credentials("token-B-new"))
    assert resp.status == 200, resp.body
    with core.db.unit() as db:  # the test CPO's details list no Tokens receiver: the same one again
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": RECEIVER}])
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 1
    [again] = core.pending_requests()
    assert again.request.headers["Authorization"] == token_header("token-B-new")


def test_the_served_emsp_re_sends_a_push_that_got_no_answer(settings: EmspSettings) -> None:
    """Through the served eMSP's pump (emsp.service.run): nothing listens at the CPO's URL, each send
    fails in transport, and the pump sends again when the core's next deadline (the retry) is due
    on the clock it is given."""
    core = EmspCore(settings)
    register(core)
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        dead = "http://127.0.0.1:9/ocpi/2.2.1/tokens/"  # discard port: nothing listens, refused at once
        row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": dead}])
    core.issue_token("TOK1", contract_id="NL-EMS-C1", now=T0)
    core.pending_requests()  # the handshake's calls
    core.block_token("TOK1", now=T0)
    now = [T0]
    answers: list[tuple[str, int]] = []
    real = core.on_response

    def on_response(request_id: str, response: HttpResponse, at: object) -> None:
        answers.append((request_id, response.status))
        real(request_id, response, now[0])
        now[0] += timedelta(hours=1)  # the next retry is due at once on this clock

    core.on_response = on_response  # type: ignore[method-assign,assignment]
    thread = CoreThread()

    async def scenario() -> None:
        pump = asyncio.ensure_future(pump_outbound(core, lambda: now[0], thread))
        try:
            async with asyncio.timeout(20):
                while len(answers) < 3:
                    await asyncio.sleep(0.01)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    try:
        asyncio.run(scenario())
    finally:
        thread.close()
    assert len({request_id for request_id, _ in answers}) == 1  # the same push, sent again
    assert {status for _, status in answers} == {599}
    assert len(stored_rows(core)) == 1  # still owed to the CPO


def pushes_counted(core: EmspCore) -> dict[str, float]:
    """`emsp_token_pushes` of partner cpo1, by outcome, as the metrics file shows them."""
    prefix = 'emsp_token_pushes_total{outcome="'
    counted = {}
    for line in core.metrics.text().splitlines():
        if line.startswith(prefix) and 'partner="cpo1"' in line:
            outcome = line[len(prefix) :].split('"', 1)[0]
            counted[outcome] = float(line.rsplit(" ", 1)[1])
    return counted


def test_the_fate_of_each_push_is_counted_per_partner(settings: EmspSettings) -> None:
    """A push that failed and one the partner will never take show in the metrics, not only the log."""
    core = started(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(503, {}, None), T0)
    core.retry_due_calls(T0 + timedelta(seconds=10))
    [again] = core.pending_requests()
    core.on_response(again.request_id, OK, T0 + timedelta(seconds=11))
    core.block_token("TOK1", now=T0 + timedelta(seconds=12))
    [refused] = core.pending_requests()
    core.on_response(refused.request_id, HttpResponse(400, {}, None), T0 + timedelta(seconds=13))
    assert pushes_counted(core) == {"retry": 1.0, "taken": 1.0, "refused": 1.0}

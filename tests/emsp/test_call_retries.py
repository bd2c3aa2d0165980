"""emsp.call_retries on its own: which durable call is the latest to its target, and when a failed
one is due again (every instant handed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emsp.call_retries import CallRetries
from emsp.wire import HttpRequest, OutboundRequest

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
URL = "http://cpo.test/ocpi/2.2.1/tokens/NL/EMS/TOK1?type=RFID"


def push(n: int, party: str = "CPA", url: str = URL) -> OutboundRequest:
    headers = {"OCPI-to-country-code": "DE", "OCPI-to-party-id": party}
    return OutboundRequest(f"emsp-out-{n}", "cpo1", HttpRequest("PUT", url, headers, f'{{"n": {n}}}'))


def test_a_later_push_rolled_back_leaves_the_earlier_one_to_be_retried() -> None:
    retries = CallRetries()
    first, second = push(1), push(2)
    retries.queued(first, "token_push")
    assert retries.answered(first.request_id, 599, T0) == T0 + timedelta(seconds=10)
    retries.queued(second, "token_push")
    retries.dropped(second.request_id)  # its transaction rolled back: never sent
    assert retries.take_due(T0 + timedelta(seconds=10)) == ([(first, "token_push")], [])


def test_pushes_to_other_parties_or_urls_do_not_supersede_each_other() -> None:
    retries = CallRetries()
    calls = [push(1), push(2, party="CPB"), push(3, url=URL.replace("TOK1", "TOK2"))]
    for call in calls:
        retries.queued(call, "token_push")
    for call in calls:
        retries.answered(call.request_id, 599, T0)
    again, superseded = retries.take_due(T0 + timedelta(seconds=10))
    assert [c.request_id for c, _ in again] == [c.request_id for c in calls] and superseded == []


def test_an_answer_forgets_the_call_and_its_failures() -> None:
    retries = CallRetries()
    call = push(1)
    retries.queued(call, "token_push")
    retries.answered(call.request_id, 599, T0)
    [(again, _)], _ = retries.take_due(T0 + timedelta(seconds=10))
    retries.queued(again, "token_push")
    assert retries.answered(call.request_id, 599, T0) == T0 + timedelta(seconds=20)  # second in a row
    retries.take_due(T0 + timedelta(seconds=20))
    retries.queued(again, "token_push")
    assert retries.answered(call.request_id, 200, T0) is None
    assert retries.next_due() is None and retries.take_due(T0 + timedelta(days=1)) == ([], [])

"""The served eMSP's sender turns every failure to build or send a call into a failed call (599).

Before, only httpx.HTTPError was caught: a URL httpx cannot parse or a header it cannot encode
raised out of the call's task, and the core never heard back (a handshake waited 20 s, a command
stayed REQUESTED, a token push was never answered)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench.runtime.live_http import send_http
from emsp.service.run import _send
from emsp.wire import HttpRequest, HttpResponse

UNSENDABLE = [
    HttpRequest("GET", "http://[::1/versions"),  # httpx.InvalidURL
    HttpRequest("GET", "http://example.test/versions", {"Authorization": "Token tökén"}),  # not latin-1
    HttpRequest("PUT", "http://example.test/tokens", {}, "{}"),  # a network error, as before
]


def _never_called(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the network is down", request=request)


async def _each(send: object, requests: list[HttpRequest]) -> list[HttpResponse]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_never_called)) as client:
        return [await send(client, r) for r in requests]  # type: ignore[operator]


@pytest.mark.parametrize("send", [_send, send_http], ids=["serve-emsp", "live-runtime"])
def test_a_call_that_cannot_be_built_is_a_failed_call(send: object) -> None:
    responses = asyncio.run(_each(send, UNSENDABLE))
    assert [r.status for r in responses] == [599] * len(UNSENDABLE)
    assert all(r.body is None for r in responses)


def test_a_sendable_call_still_gets_its_answer() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"status_code": 1000}, headers={"X-Seen": request.headers["Authorization"]}
        )

    async def one() -> HttpResponse:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            return await _send(
                client, HttpRequest("GET", "http://example.test/v", {"Authorization": "Token abc"})
            )

    response = asyncio.run(one())
    assert response.status == 200
    assert response.headers["x-seen"] == "Token abc"

"""A push its hub answered 4002/4003 (not delivered) is sent again, as after a 503; a CDR dropped then
was lost for good and graded as the eMSP's missing_cdr (noticed while integrating review11 P5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_ocpi_cpo import T0, _pump, _world

from emsp.wire import HttpResponse, dumps
from simulators.cpo.events import AuthorizationRequested, TransactionEnded, TransactionStarted


def _hub_error(code: int) -> HttpResponse:
    body = {"status_code": code, "status_message": "the receiver is not reachable", "timestamp": "x"}
    return HttpResponse(200, {"Content-Type": "application/json"}, dumps(body))


@pytest.mark.parametrize(("code", "again"), [(4003, True), (4002, True), (4001, False), (2001, False)])
def test_a_cdr_the_hub_could_not_deliver_is_sent_again(code: int, again: bool) -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    end = T0 + timedelta(hours=1)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    out = cpo.on_event(TransactionEnded("CS1", "7", end, 12000, "EVDisconnected"), end)
    [post] = [r for r in out.requests if r.request.method == "POST" and "/cdrs" in r.request.url]
    for other in (r for r in out.requests if r is not post):
        _pump(cpo, emsp, type(out)(requests=[other]), end)
    cpo.on_response(post.request_id, _hub_error(code), end)
    later = end + timedelta(hours=1)
    resent = [r for r in cpo.on_wakeup(later).requests if r.request.body == post.request.body]
    assert bool(resent) is again

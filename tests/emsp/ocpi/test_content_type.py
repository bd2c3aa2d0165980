"""A request body whose Content-Type is not application/json is read as JSON all the same.

transport_and_format (2.2.1, 2.3.0): the client SHALL send Content-Type application/json with a body;
the spec names no answer for a receiver when it does not (no 415). The eMSP is lenient here, and says
so (emsp.ocpi.body): the body itself decides (HTTP 400 when it is not JSON). Review item: a
credentials POST with text/plain was accepted; this pins that choice down.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from emsp_helpers import T0, V, answer_outbound, auth, cpo_credentials, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps


def _send(
    core: EmspCore, method: str, url: str, token: str, text: str, headers: dict[str, str]
) -> HttpResponse:
    now = T0 + timedelta(seconds=1)
    resp = core.handle(HttpRequest(method, url, {**auth(token), **headers}, text), now)
    if isinstance(resp, Deferred):  # credentials: the eMSP calls our versions first
        answer_outbound(core, now)
        final = core.take_response(resp.deferred_id)
        assert final is not None
        return final
    return resp


@pytest.mark.parametrize(
    "headers", [{"Content-Type": "text/plain"}, {}, {"Content-Type": "application/json; charset=utf-8"}]
)
def test_a_body_is_read_as_json_whatever_its_content_type(headers: dict[str, str]) -> None:
    core = EmspCore(EmspSettings())
    core.register_partner("cpo1", "token-A-cpo1", parties=[("DE", "CPA", "CPO")])
    registered = _send(core, "POST", f"{V}/credentials", "token-A-cpo1", dumps(cpo_credentials()), headers)
    assert registered.json()["status_code"] == 1000, registered.body
    token_c = registered.json()["data"]["token"]
    put = _send(core, "PUT", f"{V}/tariffs/DE/CPA/TAR1", token_c, dumps(tariff()), headers)
    assert put.json()["status_code"] == 1000, put.body
    not_json = _send(core, "PUT", f"{V}/tariffs/DE/CPA/TAR2", token_c, "{not json", headers)
    assert (not_json.status, not_json.json()["status_code"]) == (400, 2001)

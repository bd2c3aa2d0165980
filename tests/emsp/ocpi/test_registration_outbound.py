"""The eMSP as the Sender of a credentials handshake: it registers with a partner itself."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import BASE, CPO_V221, CPO_VERSIONS, T0, Client, V, auth, cpo_credentials, ocpi_ok

from emsp.core import EmspCore, RegistrationRefused
from emsp.wire import HttpRequest, HttpResponse, loads

CREDENTIALS_URL = f"{CPO_V221}/credentials"


class Partner:
    """A CPO that gave us token A out of band; records what it was sent."""

    def __init__(
        self, core: EmspCore, *, versions: list[str] | None = None, roles_party: str = "CPA"
    ) -> None:
        self.core = core
        self.versions = ["2.2.1"] if versions is None else versions
        self.roles_party = roles_party
        self.calls: list[HttpRequest] = []
        self.token_b_opened_our_versions = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.calls.append(request)
        if request.header("Authorization") != auth("their-token-A")["Authorization"]:
            return HttpResponse(401, {}, None)
        if request.url == CPO_VERSIONS:
            return ocpi_ok([{"version": v, "url": f"http://cpo.test/ocpi/{v}"} for v in self.versions])
        if request.url == CPO_V221:
            endpoints = [{"identifier": "credentials", "role": "RECEIVER", "url": CREDENTIALS_URL}]
            return ocpi_ok({"version": "2.2.1", "endpoints": endpoints})
        if request.url == CREDENTIALS_URL and request.method == "POST":
            ours = loads(request.body or "{}")
            # As the spec's Receiver would: fetch the Sender's versions with its token B first.
            probe = Client(self.core, ours["token"]).call("GET", f"{BASE}/versions")
            self.token_b_opened_our_versions = probe.status == 200
            theirs = cpo_credentials("their-token-C", ("DE", self.roles_party))
            theirs["url"] = CPO_VERSIONS
            return ocpi_ok(theirs)
        return HttpResponse(404, {}, None)


def _run(core: EmspCore, partner: Any) -> None:
    while pending := core.pending_requests():
        for outbound in pending:
            core.on_response(outbound.request_id, partner(outbound.request), T0)


@pytest.fixture
def configured(core: EmspCore) -> EmspCore:
    core.register_partner("cpo1", "token-A-we-gave", parties=[("DE", "CPA", "CPO")])
    return core


def test_the_emsp_registers_with_a_partner(configured: EmspCore) -> None:
    core = configured
    partner = Partner(core)
    run = core.start_registration("cpo1", CPO_VERSIONS, "their-token-A", T0)
    assert core.take_registration(run) is None  # nothing answered yet
    _run(core, partner)
    outcome = core.take_registration(run)
    assert outcome is not None and outcome.registered, outcome
    assert [(c.method, c.url) for c in partner.calls] == [
        ("GET", CPO_VERSIONS),
        ("GET", CPO_V221),
        ("POST", CREDENTIALS_URL),
    ]
    ours = loads(partner.calls[-1].body or "{}")
    assert ours["url"] == f"{BASE}/versions" and ours["roles"][0]["role"] == "EMSP"
    assert partner.token_b_opened_our_versions
    # Our token B is now the partner's token C toward us; token A we gave is spent.
    client = Client(core, ours["token"])
    assert client.call("GET", f"{V}/credentials").json()["data"]["token"] == ours["token"]
    assert client.call("PUT", f"{V}/sessions/DE/CPA/S1", {}).status != 401
    assert Client(core, "token-A-we-gave").call("GET", f"{BASE}/versions").status == 401
    assert core.partner_endpoints("cpo1")[0]["identifier"] == "credentials"
    with pytest.raises(RegistrationRefused, match="already registered"):
        core.start_registration("cpo1", CPO_VERSIONS, "their-token-A", T0)


@pytest.mark.parametrize(
    ("partner_kwargs", "broken", "status_code"),
    [
        pytest.param({}, "unreachable", 3001, id="unreachable"),
        pytest.param({"versions": ["2.0"]}, None, 3002, id="no-common-version"),
        pytest.param({}, "wrong-token", 3001, id="token-a-refused"),
        pytest.param({"roles_party": "XXX"}, None, 2001, id="partner-claims-an-unconfigured-party"),
    ],
)
def test_a_failed_registration_stores_nothing(
    configured: EmspCore, partner_kwargs: dict[str, Any], broken: str | None, status_code: int
) -> None:
    core = configured
    partner = Partner(core, **partner_kwargs)
    token = "not-their-token" if broken == "wrong-token" else "their-token-A"
    run = core.start_registration("cpo1", CPO_VERSIONS, token, T0)
    _run(core, (lambda _r: HttpResponse(599, {}, None)) if broken == "unreachable" else partner)
    outcome = core.take_registration(run)
    assert outcome is not None and not outcome.registered and outcome.status_code == status_code
    offered = [loads(c.body or "{}")["token"] for c in partner.calls if c.method == "POST"]
    for token_b in offered:  # the token we offered opens nothing any more
        assert Client(core, token_b).call("GET", f"{BASE}/versions").status == 401
    assert core.partner_endpoints("cpo1") == []
    # The partner can still register with us with the token A we gave it.
    assert Client(core, "token-A-we-gave").call("GET", f"{BASE}/versions").status == 200


def test_a_partner_that_never_answers_fails_at_the_deadline(configured: EmspCore) -> None:
    core = configured
    run = core.start_registration("cpo1", CPO_VERSIONS, "their-token-A", T0)
    deadline = core.next_deadline()
    assert deadline is not None
    core.expire_overdue(deadline)
    outcome = core.take_registration(run)
    assert outcome is not None and (outcome.registered, outcome.status_code) == (False, 3001)


def test_registration_refused_for_an_unknown_partner(core: EmspCore) -> None:
    with pytest.raises(RegistrationRefused, match="no partner"):
        core.start_registration("nobody", CPO_VERSIONS, "t", T0)

"""Credentials tokens the eMSP issues cannot be computed from public facts (review: forged token C).

Before the fix token C was sha256("<our party>|<partner id>|<counter>"): anyone knowing the
partner's id could act as it. A served eMSP keys the digest with a secret (random per start unless
the operator sets EMSP_TOKEN_SECRET); only in-bench worlds keep the unkeyed form (token_secret=None).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from emsp_helpers import T0, Client, V, cpo_credentials

from emsp.core import EmspCore, EmspSettings
from emsp.service.config import ServiceConfig
from emsp.service.run import build_core
from emsp.storage.tables import PartnerRow
from emsp.wire import HttpRequest, HttpResponse

CONFIG: dict[str, Any] = {
    "emsp": {
        "country_code": "NL",
        "party_id": "EMS",
        "business_name": "T",
        "public_url": "http://emsp.local",
    },
    "admin_token": "admin-secret",
    "partners": [
        {
            "id": "cpo-a",
            "token_a": "secret-a",
            "parties": [{"country_code": "DE", "party_id": "CPA", "role": "CPO"}],
        }
    ],
}


def forged(partner: str = "cpo-a", n: int = 1) -> str:
    """What /tmp/review/forge_token_c.py computes: the token C of the unkeyed form."""
    return f"C{n}-" + hashlib.sha256(f"NLEMS|{partner}|{n}".encode()).hexdigest()[:40]


def token_c(core: EmspCore) -> str:
    client = Client(core, "secret-a")
    resp = client.call("POST", f"{V}/credentials", cpo_credentials())
    assert resp.status == 200, resp.body
    token: str = resp.json()["data"]["token"]
    return token


def get_credentials(core: EmspCore, token: str) -> HttpResponse:
    headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    resp = core.handle(HttpRequest("GET", f"{V}/credentials", headers, None), Client(core, "").now)
    assert isinstance(resp, HttpResponse)
    return resp


def served(**overrides: Any) -> EmspCore:
    # build_core under emsp/service/run.py: with base_url from the config, so V must match it
    return build_core(ServiceConfig(**{**CONFIG, **overrides}), "sqlite://", "emsp.yaml")


def test_served_emsps_with_fresh_databases_issue_different_tokens_c_and_refuse_the_forged_one() -> None:
    first, second = served(), served()
    tokens = [token_c(first), token_c(second)]
    assert tokens[0] != tokens[1]
    assert forged() not in tokens
    assert all(t.startswith("C1-") and len(t) == 43 for t in tokens)  # the form partners saw stays
    resp = get_credentials(first, forged())
    assert (resp.status, resp.json()["status_code"]) == (401, 2000)
    assert get_credentials(first, tokens[0]).status == 200


@pytest.mark.parametrize(
    ("secret_a", "secret_b", "same"),
    [
        ("operator-secret-1", "operator-secret-1", True),  # the operator's secret: same tokens
        ("operator-secret-1", "operator-secret-2", False),
        (None, None, False),  # none configured: a random one per start
    ],
)
def test_the_operators_secret_keys_the_tokens(secret_a: str | None, secret_b: str | None, same: bool) -> None:
    a, b = token_c(served(token_secret=secret_a)), token_c(served(token_secret=secret_b))
    assert (a == b) is same
    assert forged() not in (a, b)


def test_the_environment_sets_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMSP_TOKEN_SECRET", "from-the-environment")
    assert ServiceConfig(**CONFIG).token_secret == "from-the-environment"


@pytest.mark.parametrize(
    ("token_secret", "unkeyed"),
    [
        (None, True),  # in-bench worlds (bench/world.py): deterministic per seed, as before
        (b"k" * 32, False),
    ],
)
def test_only_an_explicit_none_gives_the_unkeyed_form(token_secret: bytes | None, unkeyed: bool) -> None:
    core = EmspCore(EmspSettings(base_url="http://emsp.local/ocpi", token_secret=token_secret))
    core.register_partner("cpo-a", "secret-a", parties=[("DE", "CPA", "CPO")])
    assert (token_c(core) == forged()) is unkeyed


def test_the_default_settings_are_keyed() -> None:
    assert EmspSettings().token_secret is not None
    assert EmspSettings().token_secret != EmspSettings().token_secret


@pytest.mark.parametrize(("token_secret", "unkeyed"), [(None, True), (b"k" * 32, False)])
def test_the_token_b_we_offer_is_keyed_too(token_secret: bytes | None, unkeyed: bool) -> None:
    core = EmspCore(EmspSettings(base_url="http://emsp.local/ocpi", token_secret=token_secret))
    core.register_partner("cpo-a", "secret-a", parties=[("DE", "CPA", "CPO")])
    core.start_registration("cpo-a", "http://cpo.test/ocpi/versions", "their-token-a", T0)
    with core.db.unit() as db:
        partner = db.get(PartnerRow, "cpo-a")
        assert partner is not None and partner.token_pending is not None
        offered = partner.token_pending
    public = "B1-" + hashlib.sha256(b"NLEMS|cpo-a|token_b|1").hexdigest()[:40]
    assert (offered == public) is unkeyed

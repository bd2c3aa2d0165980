"""Federated drivers and fraud decisions through `/api/v1`."""

from __future__ import annotations

from emsp_helpers import Client, V, register
from fastapi.testclient import TestClient

from emsp.core import EmspCore


def canonical(api: TestClient, driver: str = "driver-1") -> None:
    """The driver in billing's `drivers` (federated identity builds on it)."""
    account = {"account_id": f"A-{driver}", "kind": "private", "time_zone": "Europe/Berlin", "country": "NL"}
    assert api.post("/api/v1/accounts", json=account).status_code == 201
    body = {"driver_id": driver, "contract_ref": None, "emaid": None}
    resp = api.post(f"/api/v1/accounts/A-{driver}/drivers", json=body)
    assert resp.status_code == 201, resp.text


def credentials(api: TestClient, driver: str = "driver-1", **body: object) -> dict[str, object]:
    if api.get(f"/api/v1/drivers/{driver}").status_code == 404:
        canonical(api, driver)
    resp = api.post(f"/api/v1/drivers/{driver}/credentials", json=body or None)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_credentials_give_one_token_per_partner(api: TestClient, api_core: EmspCore, cpo: Client) -> None:
    register(api_core, "cpo2", "token-A-cpo2", ("NL", "CPB"))
    created = credentials(api, max_battery_kwh="77")
    driver = created["driver"]
    assert isinstance(driver, dict) and driver["driver_id"] == "driver-1" and driver["contract_id"] is None
    assert driver["account_id"] == "A-driver-1"
    partners = driver["partners"]
    assert sorted(partners) == ["cpo1", "cpo2"]
    assert partners["cpo1"]["uid"] != partners["cpo2"]["uid"]
    assert all(t["partner"] == p and t["driver_id"] == "driver-1" for p, t in partners.items())
    assert sorted(created["changed"]) == sorted(t["uid"] for t in partners.values())  # type: ignore[arg-type]
    assert credentials(api)["changed"] == []  # a second call issues nothing
    got = api.get("/api/v1/drivers/driver-1").json()
    assert got["partners"] == {p: {**t, "pushed_to": []} for p, t in partners.items()}


def test_credentials_for_an_unknown_partner_are_422(api: TestClient, cpo: Client) -> None:
    canonical(api)
    resp = api.post("/api/v1/drivers/driver-1/credentials", json={"partners": ["nobody"]})
    assert resp.status_code == 422 and "nobody" in resp.text
    assert api.get("/api/v1/drivers/driver-1").json()["tokens"] == []


def test_credentials_need_a_canonical_driver(api: TestClient, cpo: Client) -> None:
    resp = api.post("/api/v1/drivers/ghost/credentials")
    assert resp.status_code == 404 and "accounts" in resp.text


def test_block_unblock_and_replace_a_driver(api: TestClient, cpo: Client) -> None:
    uid = credentials(api)["driver"]["partners"]["cpo1"]["uid"]  # type: ignore[index]
    blocked = api.post("/api/v1/drivers/driver-1/block").json()
    assert blocked["changed"] == [uid] and blocked["driver"]["partners"]["cpo1"]["valid"] is False
    assert cpo.call("POST", f"{V}/tokens/{uid}/authorize").json()["data"]["allowed"] == "BLOCKED"
    assert api.post("/api/v1/drivers/driver-1/unblock").json()["changed"] == [uid]
    replaced = api.post("/api/v1/drivers/driver-1/replace").json()
    [new] = replaced["changed"]
    assert new != uid and replaced["driver"]["partners"]["cpo1"]["uid"] == new
    assert [t["valid"] for t in replaced["driver"]["tokens"]] == [False, True]
    assert cpo.call("POST", f"{V}/tokens/{uid}/authorize").json()["data"]["allowed"] == "BLOCKED"
    assert cpo.call("POST", f"{V}/tokens/{new}/authorize").json()["data"]["allowed"] == "ALLOWED"
    for action in ("block", "unblock", "replace"):
        assert api.post(f"/api/v1/drivers/nobody/{action}").status_code == 404


def test_a_contract_id_still_finds_a_driver_of_legacy_tokens(api: TestClient) -> None:
    api.post("/api/v1/tokens", json={"uid": "A1", "contract_id": "C-1"})
    got = api.get("/api/v1/drivers/C-1").json()
    assert got["contract_id"] == "C-1" and got["driver_id"] is None and got["partners"] == {}


def test_fraud_decisions_are_listed_and_filtered(api: TestClient, api_core: EmspCore, cpo: Client) -> None:
    cpo2 = register(api_core, "cpo2", "token-A-cpo2", ("NL", "CPB"))
    uid = credentials(api)["driver"]["partners"]["cpo1"]["uid"]  # type: ignore[index]
    assert cpo2.call("POST", f"{V}/tokens/{uid}/authorize").status == 404  # cpo1's token at cpo2
    api.post("/api/v1/drivers/driver-1/block")
    for _ in range(3):
        cpo.call("POST", f"{V}/tokens/{uid}/authorize")
    page = api.get("/api/v1/fraud/decisions").json()
    assert page["total"] == 2
    first, second = page["items"]
    assert (first["rule"], first["decision"], first["partner"]) == ("foreign_partner_token", "refuse", "cpo2")
    assert first["driver_id"] == "driver-1" and first["token_uid"] == uid and "cpo1" in first["detail"]
    assert (second["rule"], second["decision"]) == ("blocked_retries", "flag")
    assert api.get("/api/v1/fraud/decisions?decision=flag").json()["total"] == 1
    assert api.get("/api/v1/fraud/decisions?partner=cpo2&rule=foreign_partner_token").json()["total"] == 1
    assert api.get("/api/v1/fraud/decisions?driver_id=other").json()["total"] == 0
    assert api.get("/api/v1/fraud/decisions?decision=maybe").status_code == 422


def test_fraud_endpoints_want_the_admin_token(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/fraud/decisions").status_code == 401
    assert anonymous.post("/api/v1/drivers/d/credentials").status_code == 401

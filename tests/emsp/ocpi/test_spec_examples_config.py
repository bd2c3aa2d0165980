"""The credentials and versions examples of OCPI 2.2.1/2.3.0 (and their 2.1.1 forms), re-expressed
with our own values, read by each version's adapter (credentials_example*, version_details_example*,
versions_info_example)."""

from __future__ import annotations

from typing import Any

import pytest

from emsp.ocpi.errors import OcpiError
from emsp.ocpi.handshake import _version_refs
from emsp.ocpi.versions import ADAPTERS


def role(role: str, party: str, name: str, **details: Any) -> dict[str, Any]:
    return {
        "role": role,
        "party_id": party,
        "country_code": "DE",
        "business_details": {"name": name, **details},
    }


LOGO = {"url": "https://cpo.example.test/logo.png", "thumbnail": "https://cpo.example.test/t.png",
        "category": "OPERATOR", "type": "png", "width": 256, "height": 256}  # fmt: skip
CREDENTIALS = {  # example name -> (body, the (country_code, party_id, role) it declares)
    "credentials_example": ({"roles": [role("CPO", "CPA", "Fixture Operator")]}, [("DE", "CPA", "CPO")]),
    "credentials_example2": (
        {"roles": [role("CPO", "CPA", "Fixture Operator"), role("EMSP", "CPA", "Fixture Provider")]},
        [("DE", "CPA", "CPO"), ("DE", "CPA", "EMSP")],
    ),
    "credentials_example3": (
        {"roles": [role("CPO", "CPA", "Fixture Operator", logo=LOGO, website="https://cpo.example.test")]},
        [("DE", "CPA", "CPO")],
    ),
    "credentials_example4": (
        {"roles": [role("CPO", p, f"Fixture {p}") for p in ("CPA", "CPB", "CPC")]},
        [("DE", "CPA", "CPO"), ("DE", "CPB", "CPO"), ("DE", "CPC", "CPO")],
    ),
}


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
@pytest.mark.parametrize("example", sorted(CREDENTIALS))
def test_credentials_examples(version: str, example: str) -> None:
    body, declared = CREDENTIALS[example]
    info = ADAPTERS[version].credentials(
        {"token": "tok-fixture-1", "url": "https://cpo.example.test/v", **body}
    )
    assert [(r.country_code, r.party_id, r.role) for r in info.roles] == declared


def test_211_credentials_have_one_party_and_no_roles() -> None:
    body = {"token": "tok", "url": "https://cpo.example.test/v", "business_details": {"name": "Fixture"},
            "party_id": "CPA", "country_code": "DE"}  # fmt: skip
    (only,) = ADAPTERS["2.1.1"].credentials(body).roles
    assert (only.country_code, only.party_id, only.role) == ("DE", "CPA", "CPO")
    with pytest.raises(OcpiError) as refused:
        ADAPTERS["2.1.1"].credentials({**body, "party_id": "TOOLONG"})
    assert refused.value.status_code == 2001


def test_230_hub_party_id_is_read_as_a_hub_party() -> None:
    body = {"token": "t", "url": "u", "hub_party_id": "DEHUB", "roles": [role("CPO", "CPA", "Fixture")]}
    assert ADAPTERS["2.3.0"].credentials(body).hub_party == ("DE", "HUB")


DETAILS = {  # version_details_example, version_details_example2: endpoints of a platform
    "version_details_example": [("credentials", "SENDER"), ("locations", "SENDER")],
    "version_details_example2": [
        ("credentials", "RECEIVER"),
        ("locations", "SENDER"),
        ("tokens", "RECEIVER"),
    ],
}


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
@pytest.mark.parametrize("example", sorted(DETAILS))
def test_version_details_examples(version: str, example: str) -> None:
    adapter = ADAPTERS[version]
    endpoints = [
        {"identifier": ident, "url": f"https://cpo.example.test/ocpi/{version}/{ident}"}
        | ({"role": r} if adapter.endpoint_roles else {})
        for ident, r in DETAILS[example]
    ]
    _version, got = adapter.endpoints_of({"version": version, "endpoints": endpoints})
    assert [e.identifier for e in got] == [i for i, _r in DETAILS[example]]
    assert [e.role for e in got] == [r if adapter.endpoint_roles else None for _i, r in DETAILS[example]]


def test_versions_info_example() -> None:
    listed = [{"version": v, "url": f"https://cpo.example.test/ocpi/{v}"} for v in ("2.1.1", "2.2.1")]
    assert [v for v, _url in _version_refs(listed)] == ["2.1.1", "2.2.1"]

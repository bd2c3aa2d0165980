"""A request's route and public URL are remembered per URL string: the same answers as routing it
afresh (table), and a session's repeated URL is split and routed once."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from emsp_helpers import V, register, session

from emsp.core import EmspCore, EmspSettings
from emsp.ocpi import router

BASE = "https://emsp.example.com/ocpi"
URLS = [
    "http://localhost:8000/ocpi/versions",
    "http://localhost:8000/ocpi/versions/",
    "http://localhost:8000/ocpi/2.2.1",
    "http://localhost:8000/ocpi/2.2.1/sessions/DE/CPA/S1",
    "http://localhost:8000/ocpi/2.2.1/sessions/DE/CPA/S1/",
    "http://other.host/ocpi/2.2.1/tokens/RFID1/authorize?type=RFID",
    "http://localhost:8000/ocpi/2.1.1/cdrs",
    "http://localhost:8000/ocpi/2.1.1/sessions/DE/CPA/S%201",
    "http://localhost:8000/ocpi/2.2.1/sessions/DE/CPA/S%001",  # not printable: unknown
    "http://localhost:8000/ocpi/9.9/sessions",
    "http://localhost:8000/ocpi/2.2.1/nosuchmodule",
    "http://localhost:8000/other/2.2.1/sessions",
    "http://localhost:8000/ocpi",
    "/ocpi/2.2.1/locations/DE/CPA/LOC1#fragment",
]


def _afresh(base_url: str, url: str) -> tuple[router._Route, str | None]:
    """What the router computed per request before remembering it."""
    base, split = urlsplit(base_url), urlsplit(url)
    route = router._route(base.path, split.path)
    if route.module == "unknown":
        return route, None
    return route, router.urlunsplit((base.scheme, base.netloc, split.path, split.query, ""))


@pytest.mark.parametrize("url", URLS)
def test_remembered_address_is_the_computed_one(url: str) -> None:
    for _ in range(2):  # a miss, then a hit
        assert router._addressed(BASE, url) == _afresh(BASE, url)


def test_a_sessions_repeated_url_is_routed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    core = EmspCore(EmspSettings(base_url="http://emsp.routed-once.example/ocpi"))
    cpo = register(core)
    routed: list[str] = []
    real = router._route
    monkeypatch.setattr(router, "_route", lambda base, path: routed.append(path) or real(base, path))
    url = f"{V}/sessions/DE/CPA/S-ROUTED"
    assert cpo.call("PUT", url, session("S-ROUTED")).status == 201
    for minute in range(1, 4):
        patch = {"kwh": minute, "last_updated": f"2025-03-01T10:{minute:02d}:00Z"}
        assert cpo.call("PATCH", url, patch).status == 200
    assert [path for path in routed if path.endswith("S-ROUTED")] == ["/ocpi/2.2.1/sessions/DE/CPA/S-ROUTED"]

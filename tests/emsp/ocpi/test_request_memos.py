"""What the request path remembers of repeated texts (a session's PATCH URL, a partner's
Authorization header) is what working it out again gives (emsp.ocpi.router, emsp.ocpi.auth)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from emsp.ocpi import auth, router
from emsp.ocpi.auth import decode_authorization, encode_token

BASE = "https://emsp.example.com/ocpi"


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


def test_a_repeated_url_is_routed_once_to_the_same_route_and_public_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routed = _counting(monkeypatch, router, "_route")
    url = "http://10.0.0.7:8000/ocpi/2.2.1/sessions/NL/CPO/S%2F1?x=1"
    first = router._resolve(BASE, url)
    assert router._resolve(BASE, url) == first
    route, public = first
    assert (route.module, route.segments) == ("sessions", ("NL", "CPO", "S/1"))
    assert public == "https://emsp.example.com/ocpi/2.2.1/sessions/NL/CPO/S%2F1?x=1"
    assert len(routed) == 1


@pytest.mark.parametrize("path", ["/other/2.2.1/sessions/NL/CPO/S1", "/ocpi/9.9/x", "/ocpi/2.2.1/nope"])
def test_an_unknown_route_has_no_public_url(path: str) -> None:
    route, public = router._resolve(BASE, "http://h" + path)
    assert (route.module, public) == ("unknown", None)


def test_a_long_url_is_routed_every_time_and_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    routed = _counting(monkeypatch, router, "_route")
    url = "http://h/ocpi/2.2.1/sessions/NL/CPO/" + "S" * 600
    kept = router._resolve_remembered.cache_info().currsize
    assert router._resolve(BASE, url) == router._resolve(BASE, url)
    assert router._resolve(BASE, url)[0].segments == ("NL", "CPO", "S" * 600)
    assert len(routed) == 3
    assert router._resolve_remembered.cache_info().currsize == kept


def test_a_repeated_header_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = _counting(monkeypatch, base64, "b64decode")
    header = encode_token("token-of-a-repeated-header")
    assert decode_authorization(header) == decode_authorization(header) == "token-of-a-repeated-header"
    assert len(decoded) == 1


@pytest.mark.parametrize(
    "header",
    [None, "", "Token", "Bearer " + base64.b64encode(b"t").decode(), "Token !!!", "Token " + "A" * 600],
)
def test_a_bad_or_long_header_reads_as_before(header: str | None) -> None:
    assert decode_authorization(header) == auth._decode(header)


def test_a_long_header_is_not_kept() -> None:
    header = encode_token("t" * 600)
    kept = auth._decode_remembered.cache_info().currsize
    assert decode_authorization(header) == "t" * 600
    assert auth._decode_remembered.cache_info().currsize == kept

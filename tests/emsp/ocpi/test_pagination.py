"""paginate(): limit validation and the `Link` header (OCPI 2.2.1 transport_and_format, pagination)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from emsp_helpers import T0, Client, V

from emsp.core import EmspCore
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.pagination import paginate
from emsp.wire import HttpRequest

BASE = "https://emsp.example/ocpi/2.2.1/tokens"
ITEMS = [T0 + timedelta(minutes=i) for i in range(5)]


def _page(query: str, max_limit: int = 100) -> tuple[list[datetime], dict[str, str]]:
    request = HttpRequest("GET", f"{BASE}?{query}" if query else BASE)
    page = paginate(
        ITEMS, url=request.url, query=request.query, last_updated=lambda t: t, max_limit=max_limit
    )
    return page.items, page.headers


@pytest.mark.parametrize(
    ("query", "count", "link"),
    [
        ("limit=2", 2, "offset=2&limit=2"),
        ("offset=3&limit=2", 2, None),
        ("", 5, None),
        ("limit=9", 2, "offset=2&limit=2"),  # server caps at X-Limit (max_limit=2 below)
        # repeated filters survive in order (HttpRequest.query would keep only foo=baz)
        ("limit=2&foo=bar&foo=baz", 2, "offset=2&limit=2&foo=bar&foo=baz"),
        ("foo=bar&limit=2&offset=1&foo=baz", 2, "offset=3&limit=2&foo=bar&foo=baz"),
        ("limit=2&foo=", 2, "offset=2&limit=2&foo="),  # blank filters are still filters
        ("limit=2&date_from=2025-03-01T09:00:00Z", 2, "offset=2&limit=2&date_from=2025-03-01T09%3A00%3A00Z"),
    ],
)
def test_link_keeps_every_filter(query: str, count: int, link: str | None) -> None:
    items, headers = _page(query, max_limit=2 if query == "limit=9" else 100)
    assert len(items) == count
    assert headers["X-Total-Count"] == "5"
    assert headers.get("Link") == (None if link is None else f'<{BASE}?{link}>; rel="next"')


# int() alone read an Arabic-Indic or fullwidth digit, an underscore and spaces (+ is a space in a
# query) as a number: offset/limit are ASCII digits (transport_and_format, Paginated Request: int).
NOT_ASCII_INTS = ["offset=%D9%A3", "limit=%EF%BC%93", "offset=1_0", "limit=%207%20", "offset=+3", "limit=1e2"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=-1", "limit=x", "offset=-1", "offset=1&limit=0", *NOT_ASCII_INTS]
)
def test_bad_limit_or_offset_is_2001(query: str) -> None:
    with pytest.raises(OcpiError) as err:
        _page(query)
    assert err.value.status_code == 2001 and err.value.http_status == 200


def test_tokens_limit_zero_and_repeated_filters(core: EmspCore, cpo: Client) -> None:
    for i in range(5):
        core.issue_token(f"U{i}", contract_id=f"C{i}", now=T0 + timedelta(minutes=i))
    zero = cpo.call("GET", f"{V}/tokens?limit=0")
    assert (zero.status, zero.json()["status_code"]) == (200, 2001)
    assert "data" not in zero.json() or not zero.json()["data"]
    resp = cpo.call("GET", f"{V}/tokens?limit=2&foo=bar&foo=baz")
    assert resp.json()["status_code"] == 1000
    assert resp.header("Link") == f'<{V}/tokens?offset=2&limit=2&foo=bar&foo=baz>; rel="next"'

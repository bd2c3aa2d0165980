"""Paginated GET responses (transport_and_format, pagination): offset/limit, date_from/date_to,
X-Total-Count, X-Limit and a `Link: <...>; rel="next"` header keeping the original filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from emsp.ocpi.errors import invalid
from emsp.timeutil import parse_ocpi_datetime
from emsp.wire import query_int

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    headers: dict[str, str]


def _int_param(query: dict[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    try:
        return query_int(query, name, default, minimum=minimum)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def _date_param(query: dict[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return parse_ocpi_datetime(text)
    except ValueError:
        raise invalid(f"query parameter '{name}' must be a DateTime") from None


def paginate(
    items: Sequence[T],
    *,
    url: str,
    query: dict[str, str],
    last_updated: Callable[[T], datetime],
    max_limit: int,
) -> Page[T]:
    """`items` must already be in a stable order (oldest first) so pages never shift."""
    offset = _int_param(query, "offset", 0)
    # limit=0 is refused with 2001 rather than answered with an empty page. transport_and_format
    # (Paginated Request) defines limit as "The maximum number of objects to GET"; the server
    # "might decide to return fewer objects" but never more, so 0 cannot be read as the default.
    # Answered literally it breaks pagination: the Link to the 'next' page "should be provided when
    # this is NOT the last page" (Paginated Response), yet a next page at limit=0 is this same page,
    # so a client following Links would either loop forever or, without a Link, wrongly conclude
    # it has every object. 2001 is "Invalid or missing parameters" (status_codes).
    limit = min(_int_param(query, "limit", max_limit, minimum=1), max_limit)
    date_from, date_to = _date_param(query, "date_from"), _date_param(query, "date_to")
    matching = [
        item
        for item in items
        if (date_from is None or last_updated(item) >= date_from)
        and (date_to is None or last_updated(item) < date_to)
    ]
    page = matching[offset : offset + limit]
    headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(max_limit)}
    if limit > 0 and offset + limit < len(matching):  # limit > 0: a misconfigured max_limit=0
        # "The Link should also contain any filters present in the original request": every
        # pair of the original query, repeated keys included (a dict such as HttpRequest.query
        # keeps only the last value of a repeated key), except offset/limit which are replaced.
        parts = urlsplit(url)
        kept = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("offset", "limit")
        ]
        params = [("offset", str(offset + limit)), ("limit", str(limit)), *kept]
        next_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        headers["Link"] = f'<{next_url}>; rel="next"'
    return Page(page, headers)

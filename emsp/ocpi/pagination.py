"""Paginated GET responses (transport_and_format, pagination): offset/limit, date_from/date_to,
X-Total-Count, X-Limit and a `Link: <...>; rel="next"` header keeping the original filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from emsp.ocpi.errors import invalid
from emsp.timeutil import parse_utc

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    headers: dict[str, str]


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(f"query parameter '{name}' must be an integer") from None
    if value < 0:
        raise invalid(f"query parameter '{name}' must not be negative")
    return value


def _date_param(query: dict[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return parse_utc(text)
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
    limit = min(_int_param(query, "limit", max_limit), max_limit)
    date_from, date_to = _date_param(query, "date_from"), _date_param(query, "date_to")
    matching = [
        item
        for item in items
        if (date_from is None or last_updated(item) >= date_from)
        and (date_to is None or last_updated(item) < date_to)
    ]
    page = matching[offset : offset + limit]
    headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(max_limit)}
    if offset + limit < len(matching) and limit > 0:
        params = {k: v for k, v in query.items() if k not in ("offset", "limit")}
        params = {"offset": str(offset + limit), "limit": str(limit), **params}
        parts = urlsplit(url)
        next_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        headers["Link"] = f'<{next_url}>; rel="next"'
    return Page(page, headers)

"""The mock CPO's Sender interfaces (pull): what it published, listed page by page.

transport_and_format, "Pagination": GET lists take `date_from`/`date_to` (on `last_updated`; from
inclusive, to exclusive as 2.2.1 and 2.3.0 state it), `offset` and `limit`; the answer carries
`X-Total-Count` (matches before paging), `X-Limit` (the page size applied: the server may lower the
asked limit) and, unless it is the last page, `Link: <next page URL, filters kept>; rel="next"`.
Objects are listed oldest first (by creation, not `last_updated`), so pages never shift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from emsp.timeutil import format_utc, parse_utc
from simulators.dialects.profile import DialectProfile

MAX_LIMIT = 50  # the most objects one page holds, whatever the client asks


@dataclass(frozen=True, slots=True)
class Paging:
    """How this CPO pages (its dialect's pagination knobs, read once in `from_dialect`):
    - cap: the most objects per page (None: MAX_LIMIT);
    - link: "full" (next URL with offset, limit and the filters), "missing" (no Link header at
      all), "without_limit" (the next URL names the offset only);
    - empty_last_page: a full last page still links to one more, empty, page;
    - frozen_date_to: the next URL pins `date_to` to the instant of the first page (objects that
      change meanwhile drop out of the listing);
    - ignore_offset: every page starts at the first object, whatever `offset` says."""

    cap: int | None = None
    link: str = "full"
    empty_last_page: bool = False
    frozen_date_to: bool = False
    ignore_offset: bool = False

    @classmethod
    def from_dialect(cls, dialect: DialectProfile) -> Paging:
        return cls(
            cap=dialect.page_cap,
            link=dialect.pagination_link,
            empty_last_page=dialect.empty_last_page,
            frozen_date_to=dialect.next_link_date_to == "frozen",
            ignore_offset=dialect.offset == "ignored",
        )


class BadQuery(ValueError):
    """A query parameter the spec's types make invalid (answered 2001)."""


class Published:
    """Objects in the wire form the CPO pushed, per module, in creation order (a dict keeps it)."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}

    def put(self, module: str, key: str, obj: Mapping[str, Any]) -> None:
        self._objects.setdefault(module, {})[key] = dict(obj)

    def patch(self, module: str, key: str, fields: Mapping[str, Any]) -> None:
        current = self._objects.get(module, {}).get(key)
        if current is not None:
            current.update(fields)

    def get(self, module: str, key: str) -> dict[str, Any] | None:
        return self._objects.get(module, {}).get(key)

    def all(self, module: str) -> list[dict[str, Any]]:
        return list(self._objects.get(module, {}).values())


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    headers: dict[str, str]


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"query parameter '{name}' must be an integer") from None
    if value < 0:
        raise BadQuery(f"query parameter '{name}' must not be negative")
    return value


def _date(query: Mapping[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return parse_utc(text)
    except ValueError:
        raise BadQuery(f"query parameter '{name}' must be a DateTime") from None


def paginate(
    objects: list[dict[str, Any]],
    url: str,
    query: Mapping[str, str],
    paging: Paging | None = None,
    now: datetime | None = None,
) -> Page:
    paging = paging or Paging()
    offset = 0 if paging.ignore_offset else _int(query, "offset", 0)
    most = MAX_LIMIT if paging.cap is None else paging.cap
    limit = min(_int(query, "limit", most), most)
    date_from, date_to = _date(query, "date_from"), _date(query, "date_to")
    matching = []
    for obj in objects:
        updated = parse_utc(str(obj["last_updated"]))
        if (date_from is None or updated >= date_from) and (date_to is None or updated < date_to):
            matching.append(obj)
    items = matching[offset : offset + limit]
    headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(limit)}
    more = offset + limit < len(matching) or (paging.empty_last_page and offset + limit == len(matching))
    if more and limit > 0 and paging.link != "missing":
        following = {k: v for k, v in query.items() if k not in ("offset", "limit")}
        if paging.frozen_date_to and now is not None and "date_to" not in following:
            following["date_to"] = format_utc(now)
        following["offset"] = str(offset + limit)
        if paging.link == "full":
            following["limit"] = str(limit)
        parts = urlsplit(url)
        next_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(following), ""))
        headers["Link"] = f'<{next_url}>; rel="next"'
    return Page(items, headers)

"""The mock CPO's Sender interfaces (pull): what it published, listed page by page.

transport_and_format, "Pagination": GET lists take `date_from`/`date_to` (on `last_updated`; from
inclusive, to exclusive as 2.2.1 and 2.3.0 state it), `offset` and `limit`; the answer carries
`X-Total-Count` (matches before paging), `X-Limit` (the page size applied: the server may lower the
asked limit) and, unless it is the last page, `Link: <next page URL, filters kept>; rel="next"`.
Objects are listed oldest first (by creation, not `last_updated`), so pages never shift. An object
without a readable `last_updated` (a partner may push one) cannot fall within a date range: a
filtered list leaves it out, an unfiltered one lists it in its place; never a crash of the list.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from emsp.timeutil import format_utc, parse_utc
from emsp.wire import query_int
from simulators.cpo.packing import Packer
from simulators.dialects.profile import DialectProfile
from simulators.instants import from_micros, to_micros

T = TypeVar("T")

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


# Modules whose objects grow with the run (one or more per charging session): kept as compressed
# canonical JSON once published, so a long run's CPO holds ~0.2 KiB per session instead of ~17 KiB
# of dicts. Locations and tariffs are few and read on every session: they stay dicts.
COMPACT_MODULES = frozenset({"sessions", "cdrs"})

# A packed object is one bytes object, its own header first: when it was last updated as the lists
# filter on it (its `last_updated` read as microseconds since 1970 UTC, NO_INSTANT when it has no
# readable one) and the number of the module's packer it was packed with. Per session and CDR kept
# all run long that is 9 bytes, where an entry object holding the three was ~90 (issue 7).
_HEADER = struct.Struct("<qB")


class _Open:
    """An object kept as a dict: one of a module not packed (few: locations, tariffs) or one being
    patched (meter updates come often: it stays a dict until its next PUT); `updated` as above."""

    __slots__ = ("body", "updated")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.updated = to_micros(_updated(body.get("last_updated")))


_Stored = bytes | _Open


class Published:
    """Objects in the wire form the CPO pushed, per module, in creation order (a dict keeps it).

    Nothing is dropped: the Sender lists serve every object changed since any date_from. Objects of
    COMPACT_MODULES are stored compressed (their JSON round-trips to the same text: Decimal numbers
    keep their digits); a PATCH unpacks one until its next PUT."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, _Stored]] = {}
        # Per packed module: its first object's packer, then the one it was reseeded with (put).
        self._packers: dict[str, list[Packer]] = {}

    def put(
        self, module: str, key: str, obj: Mapping[str, Any], text: str | None = None, *, patched: bool = False
    ) -> None:
        """`text`: dumps(obj), when the caller wrote it already (to send it): not encoded again.
        `patched`: PATCHes follow (a session just started): it is kept as a dict, as the first
        PATCH would make it, rather than packed only to be unpacked again."""
        stored: _Stored
        if module in COMPACT_MODULES and not patched:
            packers = self._packers.setdefault(module, [])
            packed_before = isinstance(self._objects.get(module, {}).get(key), bytes)
            if not packers or (len(packers) == 1 and packed_before):
                # The first object packed again is in its final form (a session COMPLETED, with
                # periods and cost), as most stored objects end up: a dictionary from it packs those
                # ~0.1 KiB smaller than one from a session just started. Entries name their packer.
                # (A session kept as a dict while patched is packed first in its final form.)
                packers.append(Packer(obj))
            number = len(packers) - 1
            header = _HEADER.pack(to_micros(_updated(obj.get("last_updated"))), number)
            stored = packers[number].pack(obj, text, header)
        else:
            stored = _Open(dict(obj))
        self._objects.setdefault(module, {})[key] = stored

    def patch(self, module: str, key: str, fields: Mapping[str, Any], appended: Collection[str] = ()) -> None:
        """`appended`: list fields the PATCH adds to rather than replaces (a `delta` CPO's
        charging_periods: each PATCH carries only the periods that ended since the last one, and
        what the Sender lists serve is the whole session so far)."""
        objects = self._objects.get(module, {})
        stored = objects.get(key)
        if stored is None:
            return
        current = stored.body if isinstance(stored, _Open) else self._unpacked(module, stored)
        for name, value in fields.items():
            current[name] = [*(current.get(name) or ()), *value] if name in appended else value
        if isinstance(stored, _Open):
            stored.updated = to_micros(_updated(current.get("last_updated")))
        else:
            objects[key] = _Open(current)

    def get(self, module: str, key: str) -> dict[str, Any] | None:
        stored = self._objects.get(module, {}).get(key)
        return None if stored is None else self._object(module, stored)

    def all(self, module: str) -> list[dict[str, Any]]:
        return [self._object(module, stored) for stored in self._objects.get(module, {}).values()]

    def page(
        self,
        module: str,
        url: str,
        query: Mapping[str, str],
        paging: Paging | None = None,
        now: datetime | None = None,
    ) -> Page:
        """paginate(self.all(module), ...), unpacking only the objects on the page."""
        entries = list(self._objects.get(module, {}).values())
        dates = [from_micros(_stored_micros(stored)) for stored in entries]
        return _paginate(
            entries, dates, url, query, lambda stored: self._object(module, stored), paging or Paging(), now
        )

    def _object(self, module: str, stored: _Stored) -> dict[str, Any]:
        return stored.body if isinstance(stored, _Open) else self._unpacked(module, stored)

    def _unpacked(self, module: str, packed: bytes) -> dict[str, Any]:
        packer = self._packers[module][packed[_HEADER.size - 1]]
        return packer.unpack(memoryview(packed)[_HEADER.size :])


def _stored_micros(stored: _Stored) -> int:
    return stored.updated if isinstance(stored, _Open) else int(_HEADER.unpack_from(stored)[0])


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    headers: dict[str, str]


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    try:
        return query_int(query, name, default)
    except ValueError as exc:
        raise BadQuery(str(exc)) from None


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
    dates = [obj.get("last_updated") for obj in objects]
    return _paginate(objects, dates, url, query, dict, paging or Paging(), now)


def _updated(last_updated: Any) -> datetime | None:
    """The object's `last_updated`, None when it has none or not a DateTime."""
    if isinstance(last_updated, datetime):
        return last_updated
    if not isinstance(last_updated, str):
        return None
    try:
        return parse_utc(last_updated)
    except ValueError:
        return None


def _paginate(
    objects: list[T],
    dates: list[Any],
    url: str,
    query: Mapping[str, str],
    item: Callable[[T], dict[str, Any]],
    paging: Paging,
    now: datetime | None,
) -> Page:
    offset = 0 if paging.ignore_offset else _int(query, "offset", 0)
    most = MAX_LIMIT if paging.cap is None else paging.cap
    limit = min(_int(query, "limit", most), most)
    date_from, date_to = _date(query, "date_from"), _date(query, "date_to")
    matching = []
    if date_from is None and date_to is None:
        matching = list(objects)  # every object, dated or not
    else:
        for obj, last_updated in zip(objects, dates, strict=True):
            updated = _updated(last_updated)
            if updated is None:
                continue  # no date to compare: outside every range
            if (date_from is None or updated >= date_from) and (date_to is None or updated < date_to):
                matching.append(obj)
    items = [item(obj) for obj in matching[offset : offset + limit]]
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

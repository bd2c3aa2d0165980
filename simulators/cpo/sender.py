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

import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from emsp.timeutil import format_utc, parse_utc
from emsp.wire import dumps, loads
from simulators.dialects.profile import DialectProfile
from simulators.instants import from_micros, shared_micros

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
# Level 6 over 1: a sim run's CDRs pack 185 -> 160 B and its sessions 123 -> 114 B (9 gains ~1%
# more); ~20 us more per pack, a few packs per charging session: memory kept all run long wins.
_ZLIB_LEVEL = 6
_RAW_DEFLATE = -15  # no zlib header or checksum: the bytes never leave this process


class _Packer:
    """Compresses one module's objects against a preset dictionary: the module's first object.

    A session or CDR repeats most of its neighbours' text (keys, party, location, tariff), which a
    lone object of ~1 KiB cannot exploit: with that shared context each compresses ~3-4x smaller.
    Lossless either way (the dictionary only primes the window), so what is read back is unchanged."""

    __slots__ = ("_zdict",)

    def __init__(self, first: Mapping[str, Any]) -> None:
        self._zdict = dumps(first).encode("utf-8")

    def pack(self, obj: Mapping[str, Any], text: str | None = None) -> bytes:
        """`text`: dumps(obj), when the caller has it already."""
        packer = zlib.compressobj(_ZLIB_LEVEL, zlib.DEFLATED, _RAW_DEFLATE, zdict=self._zdict)
        return packer.compress((dumps(obj) if text is None else text).encode("utf-8")) + packer.flush()

    def unpack(self, packed: bytes) -> dict[str, Any]:
        unpacker = zlib.decompressobj(_RAW_DEFLATE, zdict=self._zdict)
        obj: dict[str, Any] = loads(unpacker.decompress(packed) + unpacker.flush())
        return obj


class _Entry:
    """One published object: when it was last updated as the lists filter on it (its `last_updated`
    read as microseconds since 1970 UTC, None when it has no readable one: an int of ~32 bytes
    where the text was ~72, per object all run long) and the object, a dict while it is being
    patched, compressed canonical JSON once it is published whole again."""

    __slots__ = ("body", "packer", "updated")

    def __init__(self, last_updated: Any, body: dict[str, Any] | bytes, packer: _Packer | None) -> None:
        self.updated = _micros(last_updated)
        self.body = body
        self.packer = packer

    def object(self) -> dict[str, Any]:
        body = self.body
        if isinstance(body, dict):
            return body
        assert self.packer is not None  # only a packer makes bytes
        return self.packer.unpack(body)


class Published:
    """Objects in the wire form the CPO pushed, per module, in creation order (a dict keeps it).

    Nothing is dropped: the Sender lists serve every object changed since any date_from. Objects of
    COMPACT_MODULES are stored compressed (their JSON round-trips to the same text: Decimal numbers
    keep their digits); a PATCH unpacks one until its next PUT."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, _Entry]] = {}
        self._packers: dict[str, _Packer] = {}
        self._reseeded: set[str] = set()

    def put(self, module: str, key: str, obj: Mapping[str, Any], text: str | None = None) -> None:
        """`text`: dumps(obj), when the caller wrote it already (to send it): not encoded again."""
        body: dict[str, Any] | bytes
        packer = None
        if module in COMPACT_MODULES:
            packer = self._packers.get(module)
            if packer is None or (module not in self._reseeded and key in self._objects.get(module, {})):
                # The first object published again is in its final form (a session COMPLETED, with
                # periods and cost), as most stored objects end up: a dictionary from it packs those
                # ~0.1 KiB smaller than one from a session just started. Entries keep their packer.
                if packer is not None:
                    self._reseeded.add(module)
                packer = self._packers[module] = _Packer(obj)
            body = packer.pack(obj, text)
        else:
            body = dict(obj)
        self._objects.setdefault(module, {})[key] = _Entry(obj.get("last_updated"), body, packer)

    def patch(self, module: str, key: str, fields: Mapping[str, Any], appended: Collection[str] = ()) -> None:
        """`appended`: list fields the PATCH adds to rather than replaces (a `delta` CPO's
        charging_periods: each PATCH carries only the periods that ended since the last one, and
        what the Sender lists serve is the whole session so far)."""
        entry = self._objects.get(module, {}).get(key)
        if entry is not None:
            current = entry.object()
            for name, value in fields.items():
                current[name] = [*(current.get(name) or ()), *value] if name in appended else value
            entry.body = current  # patched again soon (meter updates): stays a dict until its next PUT
            entry.updated = _micros(current.get("last_updated"))

    def get(self, module: str, key: str) -> dict[str, Any] | None:
        entry = self._objects.get(module, {}).get(key)
        return None if entry is None else entry.object()

    def all(self, module: str) -> list[dict[str, Any]]:
        return [entry.object() for entry in self._objects.get(module, {}).values()]

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
        dates = [None if e.updated is None else from_micros(e.updated) for e in entries]
        return _paginate(entries, dates, url, query, _Entry.object, paging or Paging(), now)


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


def _micros(last_updated: Any) -> int | None:
    updated = _updated(last_updated)
    return None if updated is None else shared_micros(updated)


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

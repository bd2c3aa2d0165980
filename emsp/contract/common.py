"""What every contract router shares: pagination, date ranges, filters, party keys and errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query
from pydantic import BeforeValidator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from emsp.contract.models import Page, utc_in_range
from emsp.storage.tables import same_id

T = TypeVar("T")

MAX_LIMIT = 1000


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")


def invalid(message: str, *, loc: tuple[str, ...], kind: str = "value_error") -> HTTPException:
    """422 in the documented shape, the same as a request pydantic refuses: a list of {loc, msg, type}."""
    return HTTPException(status_code=422, detail=[{"loc": list(loc), "msg": message, "type": kind}])


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


@dataclass(frozen=True)
class DateRange:
    date_from: datetime | None
    date_to: datetime | None

    def checked(self) -> DateRange:
        if self.date_from is not None and self.date_to is not None and self.date_to < self.date_from:
            raise invalid("date_to must not be before date_from", loc=("query", "date_to"))
        return self


def _not_a_number(value: Any) -> Any:
    # pydantic reads "0.5" or "1700000000" as seconds since 1970; the API promises RFC 3339 only.
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("not an RFC 3339 date-time (e.g. 2026-03-01T00:00:00Z)")
    return value


Rfc3339 = Annotated[datetime | None, BeforeValidator(_not_a_number)]


def date_range(
    date_from: Annotated[Rfc3339, Query(description="Inclusive, RFC 3339, 1970 to 9000.")] = None,
    date_to: Annotated[Rfc3339, Query(description="Exclusive, RFC 3339, 1970 to 9000.")] = None,
) -> DateRange:
    return DateRange(_in_range(date_from, "date_from"), _in_range(date_to, "date_to")).checked()


def _in_range(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise invalid(f"{name} must carry a time zone offset (e.g. Z)", loc=("query", name))
    try:
        return utc_in_range(value)
    except ValueError as exc:
        raise invalid(str(exc), loc=("query", name)) from None


def upper(value: str | None) -> str | None:
    """Parties are stored upper-case (CiString: compared case-insensitively)."""
    return None if value is None else value.upper()


def paginate(
    db: Session, stmt: Select[Any], order: Any, page: PageParams, convert: Callable[[Any], T]
) -> Page[T]:
    """Count every match, then fetch one page in a stable order (the primary key)."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.scalars(stmt.order_by(order).limit(page.limit).offset(page.offset)).all()
    following = page.offset + len(rows)
    return Page[T](
        items=[convert(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
        next_offset=following if following < total else None,
    )


def any_case(column: Any, value: str | None) -> tuple[Any, Any]:
    """A `filter_eq` pair matching an OCPI id (a CiString: a session's, a CDR's) in any case."""
    return same_id(column), None if value is None else same_id(value)


def filter_eq(stmt: Select[Any], pairs: list[tuple[Any, Any]]) -> Select[Any]:
    """Add `column == value` for each pair whose value was given (None: no filter)."""
    for column, value in pairs:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def filter_range(stmt: Select[Any], column: Any, span: DateRange) -> Select[Any]:
    if span.date_from is not None:
        stmt = stmt.where(column >= span.date_from)
    if span.date_to is not None:
        stmt = stmt.where(column < span.date_to)
    return stmt

"""pydantic validation with the first failing field named in an OCPI 2001 (every version)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from emsp.ocpi.errors import invalid

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise invalid(f"invalid field '{where}': {err.get('msg', 'invalid')}") from None

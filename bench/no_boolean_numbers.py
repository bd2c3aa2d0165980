"""Scenario models refuse a boolean where a number belongs.

Pydantic's lax mode reads `true` as the int 1 or the float 1.0 (bool is an int), so a YAML 1.1
`drivers: yes` or `share: on` silently ran as 1. Expectations refuse booleans for the same reason
(bench/scenario_model.py Expectation)."""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, model_validator

from bench.field_error import FieldError

_NUMBERS = (int, float, Decimal)


def _numeric(annotation: Any) -> bool:
    """True for int, float or Decimal, also Annotated or `| None`; False for anything that may be
    something else (a bool, a str, a list, a model)."""
    if annotation in _NUMBERS:
        return True
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    elif typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    return bool(args) and all(_numeric(a) for a in args)


def _boolean_at(key: str, value: Any, annotation: Any) -> str | None:
    """The path of a boolean given where `annotation` wants a number: the value itself, or one of a
    dict's values or a list's items of numbers (`contracts: {pay_as_you_go: true}`); None: none."""
    if isinstance(value, bool):
        return key if _numeric(annotation) else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return next(
            (f"{key}.{k}" for k, v in value.items() if isinstance(v, bool) and _numeric(args[1])), None
        )
    if origin is list and len(args) == 1 and isinstance(value, list):
        return next(
            (f"{key}[{i}]" for i, v in enumerate(value) if isinstance(v, bool) and _numeric(args[0])), None
        )
    return None


class NoBooleanNumbers(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            key = field.alias if field.alias is not None and field.alias in data else name
            where = _boolean_at(key, data.get(key), field.annotation)
            if where is not None:
                raise FieldError(
                    where, "a boolean (YAML reads true/false/yes/no/on/off as one), not a number"
                )
        return data

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


class NoBooleanNumbers(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            key = field.alias if field.alias is not None and field.alias in data else name
            if isinstance(data.get(key), bool) and _numeric(field.annotation):
                raise FieldError(key, "a boolean (YAML reads true/false/yes/no/on/off as one), not a number")
        return data

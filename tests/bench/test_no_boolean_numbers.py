"""bench/no_boolean_numbers.py: a boolean is no number, inside a dict or list of numbers either."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from bench.no_boolean_numbers import NoBooleanNumbers


class _Model(NoBooleanNumbers):
    shares: dict[str, float] = Field(default_factory=dict)
    counts: list[int] = Field(default_factory=list)
    flags: dict[str, bool] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("data", "where"),
    [({"shares": {"a": 0.5, "b": True}}, "shares.b"), ({"counts": [1, False]}, "counts[1]")],
)
def test_a_boolean_among_numbers_is_refused_naming_it(data: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as raised:
        _Model.model_validate(data)
    error = raised.value.errors()[0]["ctx"]["error"]
    assert (error.fields, "a boolean" in error.reason) == ((where,), True)


def test_booleans_where_booleans_belong_pass() -> None:
    assert _Model.model_validate({"flags": {"a": True}, "counts": [1, 2]}).flags == {"a": True}

"""The reused C encoder (the eMSP's wire text and the simulators' OCPP frames) writes exactly what
simplejson's `encode` writes."""

from __future__ import annotations

from collections import namedtuple
from decimal import Decimal
from typing import Any

import pytest
import simplejson

from emsp.json_text import reused
from emsp.wire import _ENCODER, dumps

Pair = namedtuple("Pair", "a b")


class AsDict:
    """Not a tuple, but written as the dict its `_asdict` gives (simplejson's namedtuple_as_object)."""

    def _asdict(self) -> dict[str, Any]:
        return {"as": "dict", "pair": Pair(Decimal("1.0"), [])}


class NotCallable(dict[str, Any]):
    _asdict = "an attribute, not a method: written as the dict it is"


VALUES: list[Any] = [
    [2, "id-1", "MeterValues", {"connectorId": 1, "meterValue": [{"value": Decimal("12.50")}]}],
    [3, "id-2", {}],
    {
        "status_code": 1000,
        "data": {"kwh": Decimal("12.500"), "id": "s-1"},
        "timestamp": "2026-01-01T00:00:00Z",
    },
    {"b": 1, "a": [True, False, None, 1.5, -0.0, 10**30]},
    {"ünïcode": 'ε\u2028\n"\\', 1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
    (1, 2, Pair(1, 2)),
    {"pair": Pair(Pair(1, ()), {"t": (Decimal("2.50"), None)}), "obj": [AsDict(), NotCallable(k=1)]},
    "just a string",
    Decimal("1E+3"),
    [],
    {},
]


def test_wire_dumps_is_the_encoders_text() -> None:
    for value in VALUES * 2:  # twice: nothing kept from one call changes the next
        assert dumps(value) == _ENCODER.encode(value)


@pytest.mark.parametrize(
    "encoder",
    [
        _ENCODER,
        simplejson.JSONEncoder(separators=(",", ":"), use_decimal=True, ensure_ascii=False),  # OCPP-J
        simplejson.JSONEncoder(sort_keys=True, use_decimal=True),
        simplejson.JSONEncoder(iterable_as_array=True, use_decimal=True),  # tuples: iterated
    ],
)
def test_reused_encoder_writes_what_encode_writes(encoder: simplejson.JSONEncoder) -> None:
    fast = reused(encoder)
    for value in VALUES * 2:
        assert fast(value) == encoder.encode(value)


def test_reused_encoder_errors_leave_nothing_behind() -> None:
    fast = reused(_ENCODER)
    circular: list[Any] = [1]
    circular.append(circular)
    inner: dict[str, Any] = {"ok": [1, 2]}
    with pytest.raises(ValueError, match="Circular"):
        fast(circular)
    with pytest.raises(TypeError):
        fast({"list": inner["ok"], "bad": object()})
    assert fast(inner) == _ENCODER.encode(inner)
    assert fast([inner["ok"], inner["ok"]]) == _ENCODER.encode([inner["ok"], inner["ok"]])


def test_reused_encoder_refuses_what_encode_refuses() -> None:
    class BadAsDict:
        def _asdict(self) -> list[int]:
            return [1]

    for encoder in (_ENCODER, simplejson.JSONEncoder(namedtuple_as_object=False, tuple_as_array=False)):
        for value in ([BadAsDict()], {"t": (1, 2)}, Pair(1, 2)):
            try:
                expected: Any = encoder.encode(value)
            except TypeError as exc:
                expected = type(exc)
            try:
                got: Any = reused(encoder)(value)
            except TypeError as exc:
                got = type(exc)
            assert got == expected

"""The OCPP codec's schemas: compiled cheaply, with the detailed validator's exceptions on failure."""

from __future__ import annotations

import importlib
import json
from typing import Any

import fastjsonschema
import pytest

from simulators.ocppj.codec import OcppVersion
from simulators.ocppj.schema_check import compiled
from simulators.ocppj.timestamps import is_date_time

_FORMATS = {"date-time": is_date_time}
# The module itself (the package exports a function of the same name).
codec_module = importlib.import_module("simulators.ocppj.codec")


def _schema(version: OcppVersion, name: str) -> dict[str, Any]:
    entry = codec_module._schema_dir(version) / f"{name}.json"
    return dict(json.loads(entry.read_text(encoding="utf-8-sig")))


BAD = [
    ("1.6", "StatusNotification", {"connectorId": 1, "errorCode": "NoError"}),  # required
    ("1.6", "StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Charging"}),
    ("1.6", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}),
    ("1.6", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "soon", "sampledValue": []}]}),
    ("1.6", "Heartbeat", {"extra": 1}),  # additionalProperties
    ("2.0.1", "TransactionEventRequest", {"eventType": "Started"}),
]


@pytest.mark.parametrize(("version", "name", "payload"), BAD)
def test_a_refused_payload_raises_what_the_detailed_validator_raises(
    version: OcppVersion, name: str, payload: dict[str, Any]
) -> None:
    schema = _schema(version, name)
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as detailed:
        fastjsonschema.compile(schema, formats=_FORMATS)(json.loads(json.dumps(payload)))
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as ours:
        compiled(schema, _FORMATS)(json.loads(json.dumps(payload)))
    assert (ours.value.message, ours.value.rule, ours.value.name) == (
        detailed.value.message,
        detailed.value.rule,
        detailed.value.name,
    )
    assert ours.value.rule is not None  # the codec maps the rule to its CALLERROR code


def test_a_valid_payload_passes_with_the_defaults_filled_in() -> None:
    schema = _schema("2.0.1", "GetVariablesRequest")
    payload = {"getVariableData": [{"component": {"name": "X"}, "variable": {"name": "Y"}}]}
    expected = fastjsonschema.compile(schema, formats=_FORMATS)(json.loads(json.dumps(payload)))
    assert compiled(schema, _FORMATS)(json.loads(json.dumps(payload))) == expected


def test_the_codec_compiles_its_schemas_without_detailed_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost this module removes: every schema a run uses compiled with the rules' texts."""
    seen: list[bool] = []
    real = fastjsonschema.compile

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("detailed_exceptions", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastjsonschema, "compile", spy)
    codec_module._validator.cache_clear()
    try:
        check = codec_module._validator("1.6", "Heartbeat", False)
        assert check is not None
        check({})
        assert seen == [False]  # a passing payload never builds the detailed validator
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            check({"extra": 1})
        assert seen == [False, True]
    finally:
        codec_module._validator.cache_clear()

"""The OCPP codec's schemas: compiled cheaply, with the detailed validator's exceptions on failure."""

from __future__ import annotations

import importlib
import json
from typing import Any

import fastjsonschema
import pytest

from simulators.ocppj import schema_check
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
    real, real_code = fastjsonschema.compile, fastjsonschema.compile_to_code

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("detailed_exceptions", True))
        return real(*args, **kwargs)

    def spy_code(*args: Any, **kwargs: Any) -> Any:  # the quick validator's code (schema_check._quick)
        seen.append(kwargs.get("detailed_exceptions", True))
        return real_code(*args, **kwargs)

    monkeypatch.setattr(fastjsonschema, "compile", spy)
    monkeypatch.setattr(fastjsonschema, "compile_to_code", spy_code)
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


# 2.0.1 TransactionEvent: definitions reached through `$ref` (the sub-schema calls whose name
# argument the quick validator leaves out), arrays of them, formats and enums inside.
_EVENT = {
    "eventType": "Updated",
    "timestamp": "2026-03-01T10:00:00.000Z",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 3,
    "transactionInfo": {"transactionId": "T-1", "chargingState": "Charging"},
    "meterValue": [
        {
            "timestamp": "2026-03-01T10:00:00Z",
            "sampledValue": [
                {
                    "value": 1234,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                },
                {"value": 7.2, "measurand": "Power.Active.Import", "context": "Sample.Periodic"},
            ],
        }
    ],
    "evse": {"id": 1, "connectorId": 1},
}
_EVENT_FAULTS: list[tuple[str, Any]] = [
    ("meterValue.0.sampledValue.1.context", "Sample.Sometimes"),  # enum, in an item of an item
    ("meterValue.0.timestamp", "2026-13-01T10:00:00Z"),  # format, in an item
    ("meterValue.0.sampledValue.0.unitOfMeasure.unit", 5),  # type, three definitions down
    ("transactionInfo.chargingState", "Dancing"),
    ("evse.id", "1"),
]


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(payload))
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return changed


def test_the_quick_validator_passes_what_fastjsonschemas_own_passes() -> None:
    schema = _schema("2.0.1", "TransactionEventRequest")
    own = fastjsonschema.compile(schema, formats=_FORMATS, detailed_exceptions=False)
    quick = schema_check._quick(schema, _FORMATS)
    assert quick(json.loads(json.dumps(_EVENT))) == own(json.loads(json.dumps(_EVENT)))


@pytest.mark.parametrize(("path", "value"), _EVENT_FAULTS)
def test_the_quick_validator_refuses_what_fastjsonschemas_own_refuses(path: str, value: Any) -> None:
    schema = _schema("2.0.1", "TransactionEventRequest")
    own = fastjsonschema.compile(schema, formats=_FORMATS, detailed_exceptions=False)
    bad = _with(_EVENT, path, value)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        own(json.loads(json.dumps(bad)))
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        schema_check._quick(schema, _FORMATS)(json.loads(json.dumps(bad)))
    # and through compiled(): the detailed validator's own exception, naming the value's path
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as detailed:
        fastjsonschema.compile(schema, formats=_FORMATS)(json.loads(json.dumps(bad)))
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as ours:
        compiled(schema, _FORMATS)(json.loads(json.dumps(bad)))
    assert (ours.value.message, ours.value.name) == (detailed.value.message, detailed.value.name)


def test_a_schema_with_an_id_is_compiled_under_its_own_root_name() -> None:
    """1.6 security-extension schemas carry an `$id`: their root function is named after it."""
    check = compiled(_schema("1.6", "SignCertificate"), _FORMATS)
    assert check({"csr": "-----BEGIN CERTIFICATE REQUEST-----"}) is not None
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        check({})

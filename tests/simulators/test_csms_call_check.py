"""A CSMS-initiated CALL is checked against its schema before it is queued, and written once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from test_station_calls import T0, make_pair

from simulators.cpo.csms import call_problem
from simulators.ocppj import Codec, LocalProtocolError, OcppVersion, codec

CASES: list[tuple[OcppVersion, str, dict[str, Any]]] = [
    ("1.6", "Reset", {"type": "Soft"}),
    ("1.6", "Reset", {"type": "Sideways"}),
    ("1.6", "Reset", {}),
    ("1.6", "Reset", {"type": "Soft", "extra": 1}),
    ("1.6", "NoSuchAction", {}),
    ("1.6", "ClearCache", {}),
    ("2.0.1", "Reset", {"type": "Immediate"}),
    ("2.0.1", "Reset", {"type": "Soft"}),
    ("2.0.1", "Reset", {"type": "OnIdle", "evseId": "one"}),
    ("2.0.1", "UnlockConnector", {"evseId": 1, "connectorId": 1}),
    ("2.0.1", "NoSuchAction", {}),
]


def _outcome(run: Any) -> str | None:
    try:
        run()
    except LocalProtocolError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("version", "action", "payload"), CASES)
def test_check_call_refuses_what_encode_call_refuses(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    checked = _outcome(lambda: codec(version).check_call(action, payload))
    encoded = _outcome(lambda: codec(version).encode_call("id-1", action, payload))
    assert checked == encoded
    assert call_problem(version, action, payload) == checked


@pytest.mark.parametrize(("version", "action", "payload"), CASES)
def test_csms_call_writes_a_frame_once(
    version: OcppVersion, action: str, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    pair.run_until(at)
    written: list[str] = []
    encode = Codec.encode_call

    def counting(self: Codec, unique_id: str, action: str, payload: dict[str, Any]) -> str:
        written.append(action)
        return encode(self, unique_id, action, payload)

    monkeypatch.setattr(Codec, "encode_call", counting)
    problem = _outcome(lambda: codec(version).check_call(action, payload))
    if problem is not None:
        with pytest.raises(LocalProtocolError) as raised:
            pair.csms.call(pair.sid, action, payload, at)
        assert str(raised.value) == problem
        assert written == []
        return
    ref, output = pair.csms.call(pair.sid, action, payload, at)
    assert written == [action]
    [(sid, frame)] = output.frames
    assert sid == pair.sid
    kind, unique_id, sent_action, sent = json.loads(frame)
    assert (kind, sent_action, sent) == (2, action, payload)
    assert frame == encode(codec(version), unique_id, action, payload)
    assert ref.endswith("-C1")

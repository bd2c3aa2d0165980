"""The mock CPO turns a START_SESSION into RequestStartTransaction with a remoteStartId taken from the
eMSP's response_url; an eMSP under test chooses that URL, so any tail must give a valid call."""

from __future__ import annotations

import pytest

from simulators.cpo.commands import CommandAction, ocpp_call


@pytest.mark.parametrize(
    ("tail", "remote_start_id"),
    [
        ("42", 42),
        ("2147483647", 2147483647),
        ("2147483648", 1),
        ("²", 1),
        ("١٢", 1),
        ("abc", 1),
        ("9" * 40, 1),
    ],
)
def test_remote_start_id_from_any_response_url(tail: str, remote_start_id: int) -> None:
    action = CommandAction(
        "START_SESSION", f"http://emsp.test/ocpi/2.2.1/commands/START_SESSION/{tail}", "ST1"
    )
    name, payload = ocpp_call(action, "2.0.1")
    assert name == "RequestStartTransaction"
    assert payload["remoteStartId"] == remote_start_id

"""The mock CPO's Token copy keeps one Token per driver all run long: packed, read back unchanged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emsp.wire import dumps
from simulators.cpo.token_copy import TokenCopy


def _token(n: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": f"04A{n:05X}",
        "type": "RFID",
        "contract_id": f"NL-EMS-C{n:08d}",
        "visual_number": None,
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "energy_contract": {"supplier_name": "Green", "contract_id": None},
        "tax": Decimal("21.00"),
        "last_updated": "2026-03-02T07:00:00Z",
    }


def test_tokens_are_kept_packed_and_read_back_as_sent() -> None:
    copy = TokenCopy()
    tokens = [_token(n) for n in range(1, 60)]
    for n, token in enumerate(tokens):
        copy.put(token, dumps(token) if n % 2 else None)  # the request's text, or none
    assert all(type(kept) is bytes for kept in copy._by_key.values())
    packed = sum(len(kept) for kept in copy._by_key.values())
    assert packed < sum(len(dumps(t)) for t in tokens) / 3
    assert [dumps(t) for t in copy] == [dumps(t) for t in tokens]
    assert copy.get("04a00007") == tokens[6]  # a CiString: any case
    assert copy.get("nope") is None
    assert copy.patch("04A00007", {"valid": False, "whitelist": "NEVER"})
    assert copy.get("04A00007") == tokens[6] | {"valid": False, "whitelist": "NEVER"}
    assert not copy.patch("nope", {"valid": False})
    assert dumps(copy.by_uid()["04A00008"]) == dumps(tokens[7]) and len(copy) == len(tokens)
    lone = copy.get("04A00009")
    assert lone is not None
    lone["valid"] = False  # a reader's copy: the kept Token is unchanged
    assert copy.get("04A00009") == tokens[8]

"""Per-partner tolerance in the OCPI front (emsp.ocpi.tolerance) and the findings it counts.

Each deviation: refused with the spec's status from a strict partner, accepted (in its spec form)
and counted once per kind from a partner configured to tolerate it. What the spec allows is
accepted from everyone and counted as nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, auth, cdr, session

from emsp.core import EmspCore
from emsp.services.partners import PartnerConfigError


def _tolerate(core: EmspCore, **options: Any) -> None:
    core.register_partner("cpo1", "token-A-cpo1", parties=[("DE", "CPA", "CPO")], tolerate=options)


def _kinds(core: EmspCore) -> dict[str, int]:
    return {f.kind: f.count for f in core.records().findings}


def _status(resp: Any) -> tuple[int, int]:
    return resp.status, resp.json()["status_code"]


CASES = [
    ("offset", {"datetime_offset": True}, "PUT", "/sessions/DE/CPA/S1",
     session(last_updated="2025-03-01T11:00:00+01:00"), (200, 2001), "datetime_offset"),
    ("+00:00 is not UTC", {"datetime_offset": True}, "PUT", "/sessions/DE/CPA/S1",
     session(last_updated="2025-03-01T10:00:00+00:00"), (200, 2001), "datetime_offset"),
    ("number cost", {"total_cost_number": True}, "POST", "/cdrs",
     cdr(total_cost=Decimal("3.15")), (200, 2001), "total_cost_number"),
    ("trailing slash", {"trailing_slash": True}, "PUT", "/sessions/DE/CPA/S1/", session(), (404, 2000),
     "trailing_slash"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "options", "method", "path", "body", "refused", "kind"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_refused_from_a_strict_partner_accepted_and_counted_from_a_tolerated_one(
    core: EmspCore, cpo: Client, case: str, options: dict[str, Any], method: str, path: str, body: Any,
    refused: tuple[int, int], kind: str,
) -> None:  # fmt: skip
    assert _status(cpo.call(method, f"{V}{path}", body)) == refused
    assert _kinds(core) == {}
    _tolerate(core, **options)
    for _ in range(2):
        assert _status(cpo.call(method, f"{V}{path}", body))[1] == 1000
    assert _kinds(core)[kind] == 2  # one row per kind, counted (a CDR POSTed twice is also a duplicate)
    assert [f.kind for f in core.records().findings].count(kind) == 1


def test_an_offset_is_stored_as_the_utc_instant_it_names(core: EmspCore, cpo: Client) -> None:
    _tolerate(core, datetime_offset=True)
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(start_date_time="2025-03-01T10:00:00.5+01:00"))
    stored = cpo.call("GET", f"{V}/sessions/DE/CPA/S1").json()["data"]
    assert stored["start_date_time"] == "2025-03-01T09:00:00.5Z"


def test_a_plain_token_or_token_b_only_from_a_partner_configured_for_it(core: EmspCore, cpo: Client) -> None:
    plain = {"Authorization": f"Token {cpo.token}"}
    token_b = auth("token-B-cpo1")
    for headers in (plain, token_b):
        assert core.handle(_get(headers), _t()).status == 401
    _tolerate(core, plain_token=True, token_b_as_c=True)
    for headers in (plain, token_b):
        assert core.handle(_get(headers), _t()).status == 200
    assert _kinds(core) == {"plain_token": 1, "token_b_as_c": 1}


def _get(headers: dict[str, str]) -> Any:
    from emsp.wire import HttpRequest

    return HttpRequest("GET", f"{V}/tokens", headers)


def _t() -> Any:
    from datetime import UTC, datetime

    return datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_what_the_spec_allows_is_no_finding(core: EmspCore, cpo: Client) -> None:
    body = session(last_updated="2025-03-01T10:00:00.123456", country_code="de")
    body["cdr_token"] = {**body["cdr_token"], "x_backoffice": 1}
    assert _status(cpo.call("PUT", f"{V}/sessions/de/CPA/S1", body)) == (201, 1000)
    assert _status(cpo.call("POST", f"{V}/cdrs", cdr(total_cost={"excl_vat": Decimal("3.15")}))) == (
        201,
        1000,
    )
    assert _kinds(core) == {}


def test_noticed_conduct_is_counted_and_still_accepted(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status="PENDING"))
    cpo.call("POST", f"{V}/cdrs", cdr(total_energy=Decimal("12"), total_cost={"excl_vat": 0, "incl_vat": 0}))
    assert _kinds(core) == {"session_left_pending": 1, "zero_cost_cdr": 1, "cdr_totals_mismatch": 1}
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S2", session("S2", status="COMPLETED"))
    late = {"kwh": 1, "last_updated": "2025-03-01T10:30:00Z"}
    assert _status(cpo.call("PATCH", f"{V}/sessions/DE/CPA/S2", late))[1] == 1000
    assert _kinds(core)["patch_after_final"] == 1


def test_an_unknown_option_is_a_config_error(core: EmspCore) -> None:
    with pytest.raises(PartnerConfigError, match="tolerate"):
        _tolerate(core, sloppy=True)

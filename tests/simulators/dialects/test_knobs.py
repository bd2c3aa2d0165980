"""Every dialect knob in a small sim run: its signature on the wire and what it does to the outcome.

The eMSP is not made tolerant here (that is the eMSP's own tolerance options): where it refuses a
quirk today, the test asserts that the run says so (a failed expectation with a clear reason), never
that it passes in silence. Knob names and values are a contract (simulators/dialects/KNOBS.md).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from knob_runs import KnobRun, energy, run, tariff, time_price

from emsp.timeutil import parse_utc
from emsp.wire import HttpRequest, loads

# Cheaper energy 08:00-08:20 local (the run starts 08:00 Amsterdam), whole-kWh steps: periods split.
TIME_OF_DAY = tariff(
    [energy(0.30, step=1000, start_time="08:00", end_time="08:20"), energy(0.35, step=1000), time_price(2.0)]
)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> KnobRun:
    return run(tmp_path_factory.mktemp("baseline"), {})


def _clean(r: KnobRun) -> None:
    """The run passes and every session reconciles (what the baseline does)."""
    s = r.summary
    assert r.exit_code == 0, r.failed()
    assert s["sessions"]["started"] >= 3
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"]


def _sub(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def _token(entry: dict[str, Any]) -> str:
    return str(entry["headers"]["Authorization"]).removeprefix("Token ")


def test_the_baseline_is_clean(baseline: KnobRun) -> None:
    _clean(baseline)
    assert baseline.summary["cost_disputes"] == 0
    assert baseline.summary["partners"]["cpo-a"]["findings"]["total"] == 0


# ------------------------------------------------------------------------------------ transport
def test_authorization_header_plain_cannot_register(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"authorization_header": "plain"})
    details = r.requests(method="GET")[1]  # the version details, with token A as is (no base64)
    assert base64.b64decode(_token(baseline.requests(method="GET")[1])).decode() == _token(details)
    assert r.exit_code == 1
    assert "bench: cpo-a registered" in r.failed()  # never a vacuous 0 == 0 pass
    assert r.summary["sessions"]["started"] == 0


def test_token_after_registration_token_b_is_refused_and_the_run_says_so(tmp_path: Path) -> None:
    r = run(tmp_path, {"token_after_registration": "token_b"})
    credentials = next(e for e in r.requests(method="POST") if e["url"].endswith("/credentials"))
    token_b = credentials["body"]["token"]
    pushed = r.requests(method="PUT")
    assert pushed and all(base64.b64decode(_token(e)).decode() == token_b for e in pushed)
    assert r.exit_code == 1
    assert "bench: cpo-a pushes accepted" in r.failed()


def test_url_trailing_slash(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"url_trailing_slash": True}, tolerate={"trailing_slash": True})
    assert all(e["url"].split("?")[0].endswith("/") for e in r.requests())
    assert not any(e["url"].split("?")[0].endswith("/") for e in baseline.requests())
    details = next(e for e in r.responses(src="cpo-a") if e["url"].endswith("/2.2.1/"))
    assert all(ep["url"].endswith("/") for ep in details["body"]["data"]["endpoints"])
    _clean(r)  # the eMSP routes a trailing slash from a partner it tolerates it from (a finding)
    assert r.summary["partners"]["cpo-a"]["findings"]["trailing_slash"] > 0


def test_routing_headers_missing(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"routing_headers": "missing"})
    assert not any("OCPI-to-party-id" in e["headers"] for e in r.requests())
    assert any("OCPI-to-party-id" in e["headers"] for e in baseline.requests())
    _clean(r)  # bilateral: the eMSP knows the party from the token


def test_ack_data_absent_breaks_the_handshake(tmp_path: Path) -> None:
    r = run(tmp_path, {"ack_data": "absent"})
    answers = r.responses(src="cpo-a")
    assert answers and all("data" not in e["body"] for e in answers)
    assert r.exit_code == 1
    failed = {e.name: e.actual for e in r.outcome.expectations if not e.passed}
    assert "versions" in failed["bench: cpo-a registered"]


def _get(r: KnobRun, path: str, at: datetime | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    cpo = r.cpo.ocpi
    token = base64.b64encode(cpo._token_b.encode()).decode()
    url = f"http://cpo-a.cpo.local/ocpi/2.2.1/{path}"
    request = HttpRequest("GET", url, {"Authorization": f"Token {token}"}, None)
    response = r.cpo.handle_ocpi(request, at or parse_utc(r.trace[-1]["t"]))
    return response.status, loads(response.body or "{}"), dict(response.headers)


def test_not_found_ok_2003(tmp_path: Path, baseline: KnobRun) -> None:
    # No eMSP GET of one object happens in a run yet (the eMSP's pull is its own work): ask directly.
    r = run(tmp_path, {"not_found": "ok_2003"})
    status, envelope, _ = _get(r, "locations/NOPE")
    assert (status, envelope["status_code"]) == (200, 2003)
    spec_status, spec_envelope, _ = _get(baseline, "locations/NOPE")
    assert (spec_status, spec_envelope["status_code"]) == (404, 2003)  # status_codes: SHOULD be 404
    _clean(r)


# -------------------------------------------------------------------------------------- formats
def _cdr(r: KnobRun) -> dict[str, Any]:
    return next(e["body"] for e in r.requests(method="POST", module="cdrs"))


@pytest.mark.parametrize(
    ("zone", "pattern"),
    [("none", r"\d\d:\d\d:\d\d$"), ("plus_offset", r"\+00:00$"), ("local", r"\+01:00$")],
)
def test_timestamp_zone(tmp_path: Path, zone: str, pattern: str) -> None:
    # No designator is UTC (2.2.1 types, DateTime); an offset is not allowed from 2.2.1 on, so the
    # eMSP reads it (converted) only from a partner it is configured to tolerate it from.
    tolerate = None if zone == "none" else {"datetime_offset": True}
    r = run(tmp_path, {"timestamp_zone": zone}, tolerate=tolerate)
    cdr = _cdr(r)
    assert re.search(pattern, cdr["last_updated"]) and re.search(pattern, cdr["start_date_time"])
    _clean(r)
    found = r.summary["partners"]["cpo-a"]["findings"]["datetime_offset"]
    assert found == 0 if zone == "none" else found > 0


@pytest.mark.parametrize(("fraction", "digits"), [("millis", 3), ("micros", 6)])
def test_timestamp_fraction(tmp_path: Path, fraction: str, digits: int) -> None:
    r = run(tmp_path, {"timestamp_fraction": fraction})
    stamp = _cdr(r)["start_date_time"]
    assert stamp.endswith("Z") and len(stamp.rsplit(".", 1)[1]) == digits + 1
    _clean(r)


def test_country_code_case_lower(tmp_path: Path) -> None:
    r = run(tmp_path, {"country_code_case": "lower"})
    assert _cdr(r)["country_code"] == "de"
    assert any("/sessions/de/CPA/" in e["url"] for e in r.requests(method="PUT"))
    _clean(r)  # CiString: the eMSP compares country codes case-insensitively


def test_extension_fields(tmp_path: Path) -> None:
    r = run(tmp_path, {"extension_fields": True})
    assert "x_cpo_a_backoffice" in _cdr(r)
    assert all("x_cpo_a_backoffice" in e["body"] for e in r.requests(method="PUT"))
    _clean(r)  # unknown fields are ignored


def test_total_cost_format_number_loses_every_cdr_today(tmp_path: Path) -> None:
    r = run(tmp_path, {"total_cost_format": "number"})
    assert isinstance(_cdr(r)["total_cost"], Decimal)
    refused = r.responses(module="cdrs")
    assert refused and all(e["body"]["status_code"] != 1000 for e in refused)
    # The eMSP refuses a 2.2.1 CDR whose total_cost is no Price (tolerance: eMSP's own options).
    assert r.exit_code == 1 and "every session reconciles" in r.failed()
    assert r.summary["reconciliation"]["missing_cdr"] == r.summary["sessions"]["completed"]


def test_incl_vat_omitted(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"incl_vat": "omitted"})
    assert "incl_vat" not in _cdr(r)["total_cost"] and "incl_vat" in _cdr(baseline)["total_cost"]
    _clean(r)  # the eMSP bills its own re-price, which knows the VAT from the tariff
    assert r.summary["revenue"] == baseline.summary["revenue"]


def test_last_updated_on_noop_bump(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"last_updated_on_noop": "bump"})
    puts = [e["body"] for e in r.requests(method="PUT", module="locations")]
    assert len(puts) > len(baseline.requests(method="PUT", module="locations")) == 1
    strip = [{k: v for k, v in p.items() if k != "last_updated"} for p in puts]
    assert strip[0]["id"] == strip[-1]["id"] and len({p["last_updated"] for p in puts}) == len(puts)
    _clean(r)


# ----------------------------------------------------------------------------------- pagination
def _pull(
    r: KnobRun, module: str, query: str = "", *, pages: int = 10
) -> tuple[list[Any], list[dict[str, str]]]:
    """A spec client: follow `Link: rel="next"` (at most `pages` pages)."""
    items: list[Any] = []
    headers: list[dict[str, str]] = []
    path = f"{module}{query}"
    for _ in range(pages):
        status, envelope, head = _get(r, path)
        assert status == 200
        items += envelope.get("data", [])
        headers.append(head)
        link = head.get("Link", "")
        if not link:
            break
        path = link[1 : link.index(">")].split("/ocpi/2.2.1/", 1)[1]
    return items, headers


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> KnobRun:
    return run(tmp_path_factory.mktemp("listed"), {}, drivers=8, arrivals=20)


def test_page_cap(tmp_path: Path, listed: KnobRun) -> None:
    r = run(tmp_path, {"page_cap": 2}, drivers=8, arrivals=20)
    items, headers = _pull(r, "sessions", "?limit=10")
    assert headers[0]["X-Limit"] == "2" and len(headers) > 1
    assert len(items) == int(headers[0]["X-Total-Count"])  # a spec client still gets them all
    assert _pull(listed, "sessions", "?limit=10")[1][0]["X-Limit"] == "10"
    _clean(r)


def test_pagination_link_missing(tmp_path: Path) -> None:
    r = run(tmp_path, {"pagination_link": "missing"}, drivers=8, arrivals=20)
    items, headers = _pull(r, "sessions", "?limit=2")
    assert "Link" not in headers[0] and int(headers[0]["X-Total-Count"]) > 2
    assert len(items) == 2  # a client that trusts the Link header stops after the first page


def test_pagination_link_without_limit(tmp_path: Path) -> None:
    r = run(tmp_path, {"pagination_link": "without_limit"}, drivers=8, arrivals=20)
    items, headers = _pull(r, "sessions", "?limit=2")
    assert "limit=" not in headers[0]["Link"] and "offset=2" in headers[0]["Link"]
    # the next page falls back to the server's page size: all objects still arrive, in fewer pages
    assert len(items) == int(headers[0]["X-Total-Count"]) and len(headers) == 2


def test_empty_last_page(tmp_path: Path) -> None:
    r = run(tmp_path, {"empty_last_page": True}, drivers=8, arrivals=20)
    total = int(_get(r, "sessions")[2]["X-Total-Count"])
    items, headers = _pull(r, "sessions", f"?limit={total}")
    assert len(headers) == 2 and _get(r, f"sessions?offset={total}&limit={total}")[1]["data"] == []
    assert len(items) == total


def test_next_link_date_to_frozen(tmp_path: Path, listed: KnobRun) -> None:
    def skipped(r: KnobRun) -> int:
        cpo = r.cpo.ocpi
        sessions = cpo.published.all("sessions")
        first = _get(r, "sessions?limit=1")
        link = first[2]["Link"]
        # Meanwhile the first session changes (a later last_updated than the frozen date_to).
        changed = dict(sessions[0]) | {"last_updated": "2027-01-01T00:00:00Z"}
        cpo.published.put("sessions", sessions[0]["id"], changed)
        rest, _ = _pull(r, link[1 : link.index(">")].split("/ocpi/2.2.1/", 1)[1], "", pages=50)
        seen = {s["id"] for s in first[1]["data"] + rest}
        return len(sessions) - len(seen)

    r = run(tmp_path, {"next_link_date_to": "frozen"}, drivers=8, arrivals=20)
    assert "date_to=" in _get(r, "sessions?limit=1")[2]["Link"]
    assert skipped(r) == 1  # the offset now counts in a smaller set: one session never listed
    assert skipped(listed) == 0


def test_offset_ignored(tmp_path: Path) -> None:
    r = run(tmp_path, {"offset": "ignored"}, drivers=8, arrivals=20)
    items, headers = _pull(r, "sessions", "?limit=2", pages=4)
    assert len(headers) == 4 and len({s["id"] for s in items}) == 2  # the same page over and over


# ---------------------------------------------------------------------------- tariff readings
def test_cost_rounding_per_component(tmp_path: Path) -> None:
    r = run(tmp_path, {"cost_rounding": "per_component"})
    for cdr in (e["body"] for e in r.requests(method="POST", module="cdrs")):
        cents = Decimal(cdr["total_energy_cost"]["excl_vat"])
        assert cents == cents.quantize(Decimal("0.01"))  # each component line rounded to cents
    _clean(r)  # the eMSP bills its own re-price: the invoice is right...
    assert r.summary["cost_disputes"] == r.summary["cdrs"]  # ...and every CDR's total disputed


def test_step_size_per_period(tmp_path: Path) -> None:
    base = run(_sub(tmp_path, "spec"), {}, tariffs={"STD": TIME_OF_DAY})
    r = run(tmp_path, {"step_size": "per_period"}, tariffs={"STD": TIME_OF_DAY})
    assert base.summary["cost_disputes"] == 0
    assert r.summary["cost_disputes"] >= 1
    split = [
        c
        for c in (e["body"] for e in r.requests(method="POST", module="cdrs"))
        if len(c["charging_periods"]) > 1
    ]
    assert split  # only sessions with more than one period can differ
    _clean(r)


def _priced_wrong(r: KnobRun) -> None:
    """The CPO cut its periods where its reading says: the eMSP re-prices them per spec and
    disagrees with the truth (price_mismatch), not only with the CPO (cost dispute)."""
    assert r.exit_code == 1 and "every session reconciles" in r.failed()
    assert r.summary["reconciliation"]["price_mismatch"] >= 1


def test_min_duration_from_charging_start(tmp_path: Path) -> None:
    cheaper_after_10_min = tariff([energy(0.25, min_duration=600), energy(0.35), time_price(2.0)])
    r = run(tmp_path, {"min_duration_from": "charging_start"}, tariffs={"STD": cheaper_after_10_min})
    _priced_wrong(r)


def test_end_time_midnight_start_of_day(tmp_path: Path) -> None:
    evening = tariff([energy(0.30, start_time="08:10", end_time="00:00"), energy(0.35), time_price(2.0)])
    r = run(tmp_path, {"end_time_midnight": "start_of_day"}, tariffs={"STD": evening})
    _priced_wrong(r)
    assert r.summary["cost_disputes"] >= 1


def test_restriction_clock_utc(tmp_path: Path) -> None:
    r = run(tmp_path, {"restriction_clock": "utc"}, tariffs={"STD": TIME_OF_DAY})
    _priced_wrong(r)


def test_midnight_wrap_unsupported(tmp_path: Path) -> None:
    overnight = tariff([energy(0.30, start_time="08:10", end_time="02:00"), energy(0.35), time_price(2.0)])
    r = run(tmp_path, {"midnight_wrap": "unsupported"}, tariffs={"STD": overnight})
    _priced_wrong(r)
    assert r.summary["cost_disputes"] >= 1


# ------------------------------------------------------------------------------------- sessions
def test_session_updates_none(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"session_updates": "none"})
    assert not r.requests(method="PATCH") and baseline.requests(method="PATCH")
    _clean(r)


def test_session_updates_put_only(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"session_updates": "put_only"})
    assert not r.requests(method="PATCH")
    puts = r.requests(method="PUT", module="sessions")
    assert len(puts) > len(baseline.requests(method="PUT", module="sessions"))
    _clean(r)


def test_charging_periods_patch_full_list(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"charging_periods_patch": "full_list"})
    patches = [e["body"] for e in r.requests(method="PATCH")]
    assert all(p.get("charging_periods") for p in patches)
    assert sum(len(p.get("charging_periods", [])) for p in patches) > sum(
        len(e["body"].get("charging_periods", [])) for e in baseline.requests(method="PATCH")
    )
    _clean(r)  # the final PUT replaces the periods the eMSP appended meanwhile


def test_stale_patch_after_final(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"stale_patch_after_final": True})
    session_calls = r.requests(module="sessions")
    final = {
        e["url"]: i
        for i, e in enumerate(session_calls)
        if e["method"] == "PUT" and e["body"]["status"] == "COMPLETED"
    }
    late = [
        e for i, e in enumerate(session_calls) if e["method"] == "PATCH" and i > final.get(e["url"], 10**9)
    ]
    assert late and all(e["body"]["last_updated"] < e["t"] for e in late)
    _clean(r)
    findings = r.summary["partners"]["cpo-a"]["findings"]
    assert findings["stale_update"] == len(late) > baseline.summary["partners"]["cpo-a"]["findings"]["total"]
    assert findings["patch_after_final"] == len(late)


def test_session_left_pending(tmp_path: Path) -> None:
    r = run(tmp_path, {"session_left_pending": True})
    statuses = {e["body"]["status"] for e in r.requests(method="PUT", module="sessions")}
    assert statuses == {"PENDING", "COMPLETED"}
    _clean(r)


# ----------------------------------------------------------------------------------------- CDRs
def test_duplicate_cdrs_seeded(tmp_path: Path) -> None:
    r = run(_sub(tmp_path, "a"), {"duplicate_cdrs": 0.5})
    again = run(_sub(tmp_path, "b"), {"duplicate_cdrs": 0.5})
    posts = [e["body"]["id"] for e in r.requests(method="POST", module="cdrs")]
    assert len(posts) > len(set(posts))
    assert (tmp_path / "a/run/trace.jsonl").read_bytes() == (tmp_path / "b/run/trace.jsonl").read_bytes()
    assert again.summary == r.summary
    delivery = r.summary["cdr_delivery"]
    assert delivery["resent"] == delivery["resent_recognised"] == len(posts) - len(set(posts))
    _clean(r)  # identical repeats are recognised, billed once


def test_repeats_of_cdrs_the_emsp_refused_are_counted_apart(tmp_path: Path) -> None:
    # Every CDR POSTed twice, and refused both times (a 2.2.1 total_cost that is no Price): the
    # eMSP stored no copy to recognise the repeat by. Counted in `resent`, every one looked like a
    # repeat it failed to recognise (here resent 4, resent_recognised 0).
    r = run(tmp_path, {"duplicate_cdrs": 1.0, "total_cost_format": "number"})
    posts = [e["body"]["id"] for e in r.requests(method="POST", module="cdrs")]
    assert posts and len(posts) == 2 * len(set(posts))
    assert all(e["body"]["status_code"] != 1000 for e in r.responses(module="cdrs"))
    delivery = r.summary["cdr_delivery"]
    assert (delivery["resent"], delivery["resent_recognised"]) == (0, 0)
    assert delivery["resent_refused"] == len(set(posts))


def test_cdr_delay_a_day(tmp_path: Path) -> None:
    r = run(tmp_path, {"cdr_delay_minutes": 1440}, settle=1450)
    posts = r.requests(method="POST", module="cdrs")
    ends = {e["body"]["session_id"]: e["body"]["end_date_time"] for e in posts}
    assert all(e["t"] > "2026-03-03T07:" for e in posts) and ends
    _clean(r)
    delivery = r.summary["cdr_delivery"]
    assert delivery["late"] == delivery["late_matched"] == r.summary["cdrs"]


def test_cdr_delay_longer_than_settle_is_missing(tmp_path: Path) -> None:
    r = run(tmp_path, {"cdr_delay_minutes": 1440})
    assert not r.requests(method="POST", module="cdrs")
    assert (
        r.exit_code == 1 and r.summary["reconciliation"]["missing_cdr"] == r.summary["sessions"]["completed"]
    )


def test_zero_cost_cdrs_withheld(tmp_path: Path) -> None:
    free = tariff([energy(0.0), time_price(0.0)], "FREE")
    sent = run(_sub(tmp_path, "sent"), {}, tariffs={"FREE": free})
    r = run(tmp_path, {"zero_cost_cdrs": "withheld"}, tariffs={"FREE": free})
    assert sent.requests(method="POST", module="cdrs") and not r.requests(method="POST", module="cdrs")
    _clean(sent)
    assert (
        r.exit_code == 1 and r.summary["reconciliation"]["missing_cdr"] == r.summary["sessions"]["completed"]
    )


def test_cdr_totals_mismatch(tmp_path: Path) -> None:
    r = run(tmp_path, {"cdr_totals_mismatch": True})
    cdr = _cdr(r)
    periods = sum(
        d["volume"] for p in cdr["charging_periods"] for d in p["dimensions"] if d["type"] == "ENERGY"
    )
    assert cdr["total_energy"] == periods + 1
    assert r.exit_code == 1 and r.summary["reconciliation"]["energy_mismatch"] == r.summary["cdrs"]


def test_cdr_url_from_body(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"cdr_url_from": "body"})
    answers = r.responses(module="cdrs")
    assert all("Location" in e["headers"] for e in answers)
    posts = [e["body"]["id"] for e in r.requests(method="POST", module="cdrs")]
    assert len(posts) == 2 * len(set(posts))  # no URL found in the body: every CDR POSTed again
    assert baseline.cpo.ocpi.truth.cdr_urls and not r.cpo.ocpi.truth.cdr_urls
    _clean(r)
    assert r.summary["cdr_delivery"]["resent_recognised"] == len(set(posts))


def test_cdr_embeds_tariffs_false(tmp_path: Path, baseline: KnobRun) -> None:
    r = run(tmp_path, {"cdr_embeds_tariffs": False})
    assert "tariffs" not in _cdr(r) and "tariffs" in _cdr(baseline)
    _clean(r)  # the eMSP prices from the tariff it received

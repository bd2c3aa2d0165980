"""billing-mix end to end in sim: retail over verified wholesale for every session, invoices per
account and period adding up to the lines, fleet and VAT reports from the same lines, a credit CDR
and its replacement billed once; and `demand.contracts` validated at load (exit 2 naming the field)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bench.runner import RunOutcome, run_scenario
from bench.scenario import BUILTIN_DIR, ScenarioError, load_scenario

D = Decimal


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return run_scenario("billing-mix", seed=3, out=tmp_path_factory.mktemp("billing"), report=False)


def test_billing_mix_holds(run: RunOutcome) -> None:
    failed = [r for r in run.expectations if not r.passed]
    assert run.exit_code == 0, failed
    billing = run.summary["billing"]
    assert billing["sessions_billed"] == run.summary["sessions"]["completed"] > 0
    assert billing["lines"]["reversal"] == billing["lines"]["rebill"] >= 1
    assert all(billing["drivers"][k] > 0 for k in ("subscription", "pay_as_you_go", "fleet"))
    assert D(billing["margin"]) == D(billing["retail_total"]) - D(billing["wholesale_total"])
    margins = [D(p["margin"]) for p in run.summary["partners"].values()]
    assert sum(margins) == D(billing["margin"])


def test_invoices_and_reports_agree_with_the_lines(run: RunOutcome) -> None:
    invoices = json.loads((run.run_dir / "invoices.json").read_text())
    lines = [line for invoice in invoices for line in invoice["lines"]]
    for invoice in invoices:
        assert D(invoice["total_excl_vat"]) == sum(D(x["retail_excl"]) for x in invoice["lines"])
        assert D(invoice["total_vat"]) == sum(D(x["vat_amount"]) for x in invoice["lines"])
        assert {x["period"] for x in invoice["lines"]} == {invoice["period"]}
    assert {i["period"] for i in invoices} == {"2026-03", "2026-04"}  # across the month boundary
    assert D(run.summary["billing"]["invoiced_total"]) == sum(D(i["total_incl_vat"]) for i in invoices)
    with (run.run_dir / "vat_report.csv").open() as handle:
        vat = list(csv.DictReader(handle))
    assert {r["jurisdiction"] for r in vat} >= {"DE", "NL"}
    assert sum(D(r["vat"]) for r in vat) == sum(D(x["vat_amount"]) for x in lines)
    with (run.run_dir / "fleet_report.csv").open() as handle:
        fleet = list(csv.DictReader(handle))
    per_vehicle: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for x in lines:
        if x["detail"].get("rule") == "fleet":
            per_vehicle[(x["vehicle_id"], x["period"])] += D(x["retail_excl"])
    assert {(r["vehicle_id"], r["period"]): D(r["retail_excl_vat"]) for r in fleet} == per_vehicle
    for r in fleet:
        assert D(r["reimbursed_excl_vat"]) + D(r["driver_excl_vat"]) == D(r["retail_excl_vat"])


def test_every_session_has_both_prices_and_corrections_bill_once(run: RunOutcome) -> None:
    invoices = json.loads((run.run_dir / "invoices.json").read_text())
    lines = [line for invoice in invoices for line in invoice["lines"] if line["kind"] != "fee"]
    net: dict[str, Decimal] = defaultdict(Decimal)
    for x in lines:
        net[x["session_id"]] += {"reversal": D(-1)}.get(x["kind"], D(1))
        assert x["wholesale_verified"] and x["cost_lines"][0]["kind"] == "wholesale"
        if x["jurisdiction"] == "DE":
            assert x["evidence"]["fields"]["signed_data"]["encoding_method"] == "OCMF"
    assert set(net.values()) == {D(1)}  # every session billed exactly once
    reversals = [x for x in lines if x["kind"] == "reversal"]
    rebills = {x["replaces_cdr"]: x for x in lines if x["kind"] == "rebill"}
    for reversal in reversals:
        original = next(x for x in lines if x["line_no"] == reversal["reverses_line"])
        assert reversal["replaces_cdr"] == original["cdr_id"]
        assert D(reversal["retail_excl"]) == -D(original["retail_excl"])
        assert rebills[original["cdr_id"]]["session_id"] == original["session_id"]


def test_corrections_through_the_hub_are_reversed_and_rebilled_and_its_fee_charged_once(
    run: RunOutcome,
) -> None:
    invoices = json.loads((run.run_dir / "invoices.json").read_text())
    hub_lines = [line for invoice in invoices for line in invoice["lines"] if line.get("channel") == "hub-eu"]
    kinds = [line["kind"] for line in hub_lines]
    assert kinds.count("reversal") == kinds.count("rebill") >= 1
    assert run.summary["partners"]["cpo-nl2"]["findings"]["credit_unknown_cdr"] == 0
    # The hub charged one fee per session, as the eMSP booked it (not one per credit/replacement CDR).
    hub = run.world.hubs["hub-eu"]
    assert len(hub.truth.fees) == kinds.count("charge")
    assert D(run.summary["hubs"]["hub-eu"]["fees"]["EUR"]) == D(
        run.summary["billing"]["channel_hub_fees"]["hub-eu"]
    )


def _with(tmp_path: Path, demand: dict[str, object]) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "billing-mix.yaml").read_text())
    data["demand"] |= demand
    for cpo in data["cpos"]:
        cpo["tariffs"] = {k: str(BUILTIN_DIR / v) for k, v in cpo["tariffs"].items()}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("demand", "field", "reason"),
    [
        (
            {"contracts": {"fleet": 1.0}, "retail": {"pay_as_you_go": {"price_per_kwh": "0.5"}}},
            "demand",
            "retail.fleet",
        ),
        ({"contracts": {"subscription": 0.5}, "retail": None}, "demand", "needs retail"),
        ({"contracts": {"lease": 0.5}}, "demand.contracts.lease", ""),
        ({"contracts": {"fleet": 1.5}}, "demand.contracts.fleet", "less than or equal"),
        (
            {"retail": {"pay_as_you_go": {"price_per_kwh": "-1"}}},
            "demand.retail.pay_as_you_go.price_per_kwh",
            "",
        ),
    ],
)
def test_invalid_contracts_name_the_field(
    tmp_path: Path, demand: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(_with(tmp_path, demand)))
    assert info.value.field.startswith(field), info.value
    assert reason in info.value.reason

"""A CDR whose CPO cost is in another currency than the contract's (a DKK CDR, an EUR driver): with
no exchange rate its cost is shown per currency (`billing.wholesale_unconverted.<CUR>`) and the line
stays out of every margin, which would otherwise count its whole retail charge as margin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from timeline_helpers import variant

from bench.billing import figures
from bench.runner import run_scenario
from emsp.billing.invoices import Line
from emsp.wire import dumps, loads

D = Decimal


def _line(line_no: int, kind: str, cost: tuple[str, str], sign: int = 1, channel: str = "bilateral") -> Line:
    """A session line: retail 5.00 EUR, the CPO's cost `cost` (amount, currency)."""
    amount, currency = D(cost[0]) * sign, cost[1]
    costs = [{"kind": "wholesale", "amount_excl": str(amount), "currency": currency}]
    return Line(
        line_no=line_no, kind=kind, account_id="P1", driver_id="D1", vehicle_id=None, contract_ref="K1",
        period="2026-03", partner="cpo-x", channel=channel, party="DK*CPX", cdr_id=f"C{line_no}",
        session_id=f"S{line_no}", reverses_line=1 if kind == "reversal" else None, replaces_cdr=None,
        jurisdiction="DK", currency="EUR", energy_kwh=D(10) * sign,
        wholesale_excl=amount if currency == "EUR" else D("0.00"),  # as the ledger sums
        wholesale_verified=True, cost_lines=costs, retail_excl=D("5.00") * sign, vat_rate=D("0.25"),
        vat_amount=D("1.25") * sign, retail_incl=D("6.25") * sign,
        detail={} if currency == "EUR" else {"costs_unconverted": currency}, evidence={},
    )  # fmt: skip


def _figures(lines: list[Line]) -> tuple[dict[str, object], dict[str, str]]:
    return figures(
        lines, currency="EUR", accounts=1, drivers={}, sessions_with_cdr=len(lines), cpo_ids=["cpo-x"],
        owner=lambda partner, party: partner,
    )  # fmt: skip


def test_a_foreign_currency_cost_is_shown_and_kept_out_of_the_margin() -> None:
    billing, margins = _figures([_line(1, "charge", ("3.00", "EUR")), _line(2, "charge", ("23.50", "DKK"))])
    assert billing["wholesale_unconverted"] == {"DKK": "23.50"}
    # Only the EUR session has a known margin: 5.00 - 3.00, not 2.00 + the DKK session's 5.00.
    assert billing["margin"] == "2.00"
    assert billing["channel_margin"] == {"bilateral": "2.00"}
    assert billing["channel_margin_total"] == "2.00"
    assert billing["channel_retail"] == {"bilateral": "5.00"}
    assert margins == {"cpo-x": "2.00"}
    # What the driver pays is unchanged: both sessions are billed and invoiced.
    assert billing["retail_total"] == "10.00"
    assert billing["wholesale_total"] == "3.00"


def test_a_credited_foreign_cost_nets_to_zero() -> None:
    billing, _ = _figures([_line(1, "charge", ("23.50", "DKK")), _line(2, "reversal", ("23.50", "DKK"), -1)])
    assert billing["wholesale_unconverted"] == {"DKK": "0.00"}
    assert billing["margin"] == "0.00"


def test_same_currency_lines_have_no_unconverted_figure() -> None:
    billing, _ = _figures([_line(1, "charge", ("3.00", "EUR"))])
    assert billing["wholesale_unconverted"] == {}
    assert billing["margin"] == "2.00"


def test_billing_mix_with_a_cpo_charging_in_kroner(tmp_path: Path) -> None:
    """cpo-nl's tariff in DKK: its cost shows in kroner, from the load on (an expectation names
    the path), and its sessions are in no margin (billing.margin is over the EUR-cost lines only)."""

    def mutate(data: dict[str, Any]) -> None:
        nl = next(c for c in data["cpos"] if c["id"] == "cpo-nl")
        nl["tariffs"] = {"STD": "tariffs/standard-dkk.json"}
        data["expectations"].append({"metric": "billing.wholesale_unconverted.DKK", "op": ">", "value": 0})

    path = variant(tmp_path, "billing-mix", mutate)
    tariff = loads((tmp_path / "tariffs/standard.json").read_text(encoding="utf-8"))
    (tmp_path / "tariffs/standard-dkk.json").write_text(dumps(tariff | {"currency": "DKK"}), encoding="utf-8")
    outcome = run_scenario(str(path), out=tmp_path / "run", report=False)
    assert outcome.exit_code == 0, [r for r in outcome.expectations if not r.passed]
    billing = outcome.summary["billing"]
    lines = [x for invoice in loads((tmp_path / "run/invoices.json").read_text()) for x in invoice["lines"]]
    dkk = [x for x in lines if x["detail"].get("costs_unconverted") == "DKK"]
    assert dkk and {x["party"] for x in dkk} == {"NL*CPN"}
    cost = sum((D(c["amount_excl"]) for x in dkk for c in x["cost_lines"] if c["currency"] == "DKK"), D(0))
    assert D(billing["wholesale_unconverted"]["DKK"]) == cost > 0
    margined = [x for x in lines if x["kind"] != "fee" and x not in dkk]
    assert D(billing["margin"]) == sum((D(x["margin"]) for x in margined), D(0))
    assert D(outcome.summary["partners"]["cpo-nl"]["margin"]) == 0

"""A hub fee in another currency than the retail one: shown per channel and currency
(`billing.channel_hub_fees_unconverted`), never silently dropped; same-currency fees stay in the
margin exactly as before (margin = retail - wholesale - hub fees)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from timeline_helpers import variant

from bench.billing import figures
from bench.runner import run_scenario
from emsp.billing.invoices import Line

D = Decimal


def _line(line_no: int, kind: str, fee: tuple[str, str] | None, sign: int = 1) -> Line:
    """A session line through hub-eu: retail 5.00, the CPO's cost 3.00, and the hub's fee."""
    costs = [{"kind": "wholesale", "amount_excl": str(sign * D("3.00")), "currency": "EUR"}]
    wholesale = sign * D("3.00")
    if fee is not None:
        amount, currency = D(fee[0]) * sign, fee[1]
        costs.append({"kind": "hub_fee", "amount_excl": str(amount), "currency": currency})
        wholesale += amount if currency == "EUR" else 0  # as the ledger sums: the line's currency only
    return Line(
        line_no=line_no, kind=kind, account_id="P1", driver_id="D1", vehicle_id=None, contract_ref="K1",
        period="2026-03", partner="hub-eu", channel="hub-eu", party="NL*HUB", cdr_id=f"C{line_no}",
        session_id="S1", reverses_line=1 if kind == "reversal" else None, replaces_cdr=None,
        jurisdiction="NL", currency="EUR", energy_kwh=D(10) * sign, wholesale_excl=wholesale,
        wholesale_verified=True, cost_lines=costs, retail_excl=D("5.00") * sign, vat_rate=D("0.21"),
        vat_amount=D("1.05") * sign, retail_incl=D("6.05") * sign, detail={}, evidence={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "hub_fees", "margin", "unconverted"),
    [
        ([_line(1, "charge", None)], "0.00", "2.00", {}),
        ([_line(1, "charge", ("0.25", "EUR"))], "0.25", "1.75", {}),
        ([_line(1, "charge", ("0.25", "USD"))], "0.00", "2.00", {"hub-eu": {"USD": "0.25"}}),
        # Credited and rebilled: the fee is borne once, in whichever currency.
        (
            [_line(1, "charge", ("0.25", "USD")), _line(2, "reversal", ("0.25", "USD"), -1),
             _line(3, "rebill", ("0.25", "USD"))],
            "0.00", "2.00", {"hub-eu": {"USD": "0.25"}},
        ),
        (
            [_line(1, "charge", ("0.25", "EUR")), _line(2, "reversal", ("0.25", "EUR"), -1),
             _line(3, "rebill", ("0.25", "EUR"))],
            "0.25", "1.75", {},
        ),
    ],
)  # fmt: skip
def test_a_hub_fee_in_another_currency_is_shown_apart_never_dropped(
    lines: list[Line], hub_fees: str, margin: str, unconverted: dict[str, dict[str, str]]
) -> None:
    billing, _ = figures(
        lines, currency="EUR", accounts=1, drivers={}, sessions_with_cdr=1, cpo_ids=["cpo-nl2"],
        owner=lambda partner, party: "cpo-nl2", channels=("bilateral", "hub-eu"),
    )  # fmt: skip
    assert billing["channel_hub_fees"]["hub-eu"] == hub_fees
    assert D(billing["channel_margin"]["hub-eu"]) == D(margin)
    parts = (billing["channel_retail"]["hub-eu"], billing["channel_wholesale"]["hub-eu"], hub_fees)
    assert D(parts[0]) - D(parts[1]) - D(parts[2]) == D(margin)
    assert billing["channel_hub_fees_unconverted"] == unconverted


def _dkk_cost(line: Line) -> Line:
    """The same line whose CPO billed in DKK: that cost leaves wholesale_excl, the EUR fee stays."""
    costs = [c | {"currency": "DKK"} if c["kind"] == "wholesale" else c for c in line.cost_lines]
    eur = sum((D(c["amount_excl"]) for c in costs if c["currency"] == "EUR"), D(0))
    return dataclasses.replace(line, cost_lines=costs, wholesale_excl=eur)


def test_a_retail_currency_hub_fee_counts_when_the_cpo_bills_in_another_currency() -> None:
    """A hub-routed CPO billing DKK on EUR contracts: the line's margin is unknown, but its EUR hub fee
    is a known cost of the channel. It vanished from every billing figure (review9 M4)."""
    margined = _line(1, "charge", ("0.25", "EUR"))
    foreign = [_dkk_cost(_line(n, "charge", ("0.25", "EUR"))) for n in (2, 3)]
    billing, _ = figures(
        [margined, *foreign], currency="EUR", accounts=1, drivers={}, sessions_with_cdr=3,
        cpo_ids=["cpo-nl2"], owner=lambda partner, party: "cpo-nl2", channels=("bilateral", "hub-eu"),
    )  # fmt: skip
    assert billing["channel_hub_fees"]["hub-eu"] == billing["hub_fees_total"] == "0.75"  # one fee a session
    assert billing["channel_hub_fees_unconverted"] == {}
    assert billing["wholesale_unconverted"] == {"DKK": "6.00"}
    # The margin and its retail and wholesale stay the margined line's; the CPOs' cost plus every fee
    # is the wholesale total.
    channel = billing["channel_retail"]["hub-eu"], billing["channel_wholesale"]["hub-eu"]
    assert (billing["margin"], *channel) == ("1.75", "5.00", "3.00")
    fees, wholesale = D(billing["hub_fees_total"]), D(billing["channel_wholesale"]["hub-eu"])
    assert D(billing["wholesale_total"]) == wholesale + fees


def test_billing_mix_with_a_hub_charging_in_dollars_shows_its_fees_in_dollars(tmp_path: Path) -> None:
    persona: dict[str, Any] = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "scenarios/hubs/aggregating.yaml").read_text(encoding="utf-8")
    )
    persona["fee_per_session"]["currency"] = "USD"
    (tmp_path / "agg-usd.yaml").write_text(yaml.safe_dump(persona), encoding="utf-8")

    def mutate(data: dict[str, Any]) -> None:
        data["hubs"][0]["persona"] = "./agg-usd.yaml"
        data["expectations"] = [
            e
            for e in data["expectations"]
            if "hub_fees" not in e["metric"] and "hub_fees" not in str(e["value"])
        ] + [
            {
                "metric": "billing.channel_hub_fees_unconverted.hub-eu.USD",
                "op": "==",
                "value": "hubs.hub-eu.fees.USD",
            }
        ]

    outcome = run_scenario(str(variant(tmp_path, "billing-mix", mutate)), out=tmp_path / "run", report=False)
    assert outcome.exit_code == 0, [r for r in outcome.expectations if not r.passed]
    billing = outcome.summary["billing"]
    assert billing["channel_hub_fees"]["hub-eu"] == "0.00"
    billed = outcome.summary["channels"]["hub-eu"]["billed"]
    assert billed["hub_fees_unconverted"] == billing["channel_hub_fees_unconverted"]["hub-eu"]
    assert "hub_fees_unconverted" not in outcome.summary["channels"]["bilateral"]["billed"]
    assert (
        D(billing["channel_hub_fees_unconverted"]["hub-eu"]["USD"])
        == D(outcome.summary["hubs"]["hub-eu"]["fees"]["USD"])
        > 0
    )

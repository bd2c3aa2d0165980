"""A hub's fee per session is a cost line of each session routed through it (emsp.billing.hub_fees):
margin = retail - the CPO's wholesale cost - the hub fee, to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billing_helpers import cdr_doc, make_driver, settle

from emsp.billing.hub_fees import set_hub_fee
from emsp.services.partners import upsert_partner
from emsp.storage.db import Database
from emsp.wire import loads

D = Decimal
HUB = "hub-x"


@pytest.mark.parametrize(
    ("partner", "fee", "costs", "wholesale"),
    [
        # bilateral: the hub's contract does not touch it
        ("CPA", (D("0.25"), "EUR"), [("wholesale", "NL*CPA", "3.50", "EUR")], D("3.50")),
        # through the hub: its fee joins the CPO's cost
        (
            HUB,
            (D("0.25"), "EUR"),
            [("wholesale", "NL*CPA", "3.50", "EUR"), ("hub_fee", HUB, "0.25", "EUR")],
            D("3.75"),
        ),
        # a hub whose contract has no fee
        (HUB, None, [("wholesale", "NL*CPA", "3.50", "EUR")], D("3.50")),
        # a fee in another currency: a cost line of its own, never added to the EUR wholesale
        (
            HUB,
            (D("0.20"), "GBP"),
            [("wholesale", "NL*CPA", "3.50", "EUR"), ("hub_fee", HUB, "0.20", "GBP")],
            D("3.50"),
        ),
    ],
)
def test_the_hub_fee_is_a_cost_line_of_a_session_through_the_hub(
    partner: str, fee: tuple[Decimal, str] | None, costs: list[tuple[str, ...]], wholesale: Decimal
) -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        upsert_partner(s, HUB, "token-a-hub", (), True)
        if fee is not None:
            set_hub_fee(s, HUB, *fee)
        emaid = make_driver(s, 1, "pay_as_you_go")
        [line] = settle(s, cdr_doc("C1", "S1", emaid, D("10")), partner=partner)
        got = [(c["kind"], c["party"], c["amount_excl"], c["currency"]) for c in loads(line.cost_lines_json)]
        assert got == costs
        assert line.channel == ("bilateral" if partner == "CPA" else HUB)
        assert line.wholesale_excl == wholesale
        assert line.retail_excl - line.wholesale_excl == D("5.25") - wholesale  # the margin


def test_a_credited_and_rebilled_session_bears_the_hub_fee_once() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        upsert_partner(s, HUB, "token-a-hub", (), True)
        set_hub_fee(s, HUB, D("0.25"), "EUR")
        emaid = make_driver(s, 1, "pay_as_you_go")
        lines = settle(s, cdr_doc("C1", "S1", emaid, D("10")), partner=HUB)
        lines += settle(s, cdr_doc("C1-CR", "S1", emaid, D("10"), credit_ref="C1"), partner=HUB)
        lines += settle(s, cdr_doc("C2", "S1", emaid, D("8")), partner=HUB)
        costs = [c for line in lines for c in loads(line.cost_lines_json)]
        fees = [D(c["amount_excl"]) for c in costs if c["kind"] == "hub_fee"]
        assert sorted(line.kind for line in lines) == ["charge", "rebill", "reversal"]
        assert sum(fees) == D("0.25")


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [(D("-0.01"), "EUR", "negative"), (D("0.25"), "eur", "ISO 4217"), (D("0.25"), "EURO", "ISO 4217")],
)
def test_an_invalid_hub_fee_is_refused(amount: Decimal, currency: str, reason: str) -> None:
    db = Database("sqlite://")
    with db.unit() as s, pytest.raises(ValueError, match=reason):
        set_hub_fee(s, HUB, amount, currency)

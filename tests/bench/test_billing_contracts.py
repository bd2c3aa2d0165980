"""Drawing contracts for drivers: proportions, determinism, and no billing without demand.contracts."""

from __future__ import annotations

import random

import pytest

from bench.billing import assign_contracts
from bench.runner import summary_skeleton
from bench.scenario import load_scenario


@pytest.mark.parametrize(
    ("mix", "n", "counts"),
    [
        (
            {"subscription": 0.3, "pay_as_you_go": 0.5, "fleet": 0.2},
            10,
            {"subscription": 3, "pay_as_you_go": 5, "fleet": 2},
        ),
        (
            {"subscription": 0.3, "pay_as_you_go": 0.5, "fleet": 0.2},
            7,
            {"subscription": 2, "pay_as_you_go": 4, "fleet": 1},
        ),
        ({"pay_as_you_go": 1.0}, 4, {"pay_as_you_go": 4}),
        ({"subscription": 1, "fleet": 1}, 3, {"subscription": 2, "fleet": 1}),  # shares are relative
        ({"fleet": 0.0, "pay_as_you_go": 0.2}, 2, {"pay_as_you_go": 2}),
    ],
)
def test_assign_contracts_in_proportion(mix: dict, n: int, counts: dict[str, int]) -> None:
    kinds = assign_contracts(mix, n, random.Random("contracts-1"))
    assert {k: kinds.count(k) for k in counts} == counts and len(kinds) == n
    assert kinds == assign_contracts(mix, n, random.Random("contracts-1"))  # same seed, same drivers


def test_no_contracts_no_billing_paths() -> None:
    smoke, _ = load_scenario("smoke")
    assert "billing" not in summary_skeleton(smoke, ["EUR"])
    mix, _ = load_scenario("billing-mix")
    skeleton = summary_skeleton(mix, ["EUR"])
    assert skeleton["billing"]["retail_total"] == "0.00"
    assert all("margin" in p for p in skeleton["partners"].values())

"""The settlement pricer keeps parsed tariffs per JSON text: same prices, one parse per text."""

from __future__ import annotations

from typing import Any

import pytest
from tariff_cases import cdr, fixture

import emsp.settlement.settle as settle
from emsp.settlement.settle import TariffEnginePricer
from emsp.settlement.tariff import TariffError
from emsp.wire import dumps, loads

CDR = cdr("2025-03-01T09:00:00Z", [(0, {"ENERGY": 10, "TIME": 1})], 60)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the tariffs actually parsed (not taken from the pricer's cache)."""
    seen: list[str] = []
    real = settle._parse

    def counting(engine: Any, tariff: Any) -> Any:
        seen.append(str(tariff.get("id")))
        return real(engine, tariff)

    monkeypatch.setattr(settle, "_parse", counting)
    return seen


@pytest.mark.parametrize("name", ["t01_time_2_per_hour", "t04_complex", "t08_energy_025"])
def test_a_kept_parse_prices_as_a_fresh_one(name: str, parses: list[str]) -> None:
    tariff = fixture(name)
    pricer = TariffEnginePricer()
    first = pricer.price({"T": tariff}, CDR, tz="Europe/Amsterdam")
    again = pricer.price({"T": fixture(name)}, CDR, tz="Europe/Amsterdam")  # an equal, new mapping
    fresh = TariffEnginePricer().price({"T": tariff}, CDR, tz="Europe/Amsterdam")
    assert first == again == fresh
    assert len(parses) == 2  # one per pricer: the second price reused the first parse


def test_a_changed_tariff_is_parsed_again(parses: list[str]) -> None:
    pricer = TariffEnginePricer()
    tariff = fixture("t08_energy_025")
    before = pricer.price({"T": tariff}, CDR, tz="UTC")
    raised = {**tariff, "elements": [], "id": "raised"}
    with pytest.raises(TariffError):  # no elements: nothing to price with
        pricer.price({"T": raised}, CDR, tz="UTC")
    assert pricer.price({"T": tariff}, CDR, tz="UTC") == before
    assert parses.count("raised") == 1 and len(parses) == 2  # the refusal was not kept


def test_the_oldest_texts_go_once_the_bound_is_reached(parses: list[str]) -> None:
    pricer = TariffEnginePricer()
    pricer.PARSED_KEPT = 2
    base = fixture("t08_energy_025")
    for n in (1, 2, 3, 1):
        pricer.price({"T": {**base, "id": f"T{n}"}}, CDR, tz="UTC")
    assert parses == ["T1", "T2", "T3", "T1"]  # T1 went when T3 came, so it was parsed again


@pytest.mark.parametrize("name", ["t01_time_2_per_hour", "t04_complex", "t08_energy_025"])
def test_a_shared_tariff_document_is_only_read(name: str) -> None:
    """Settlement parses a stored tariff's text once and hands the same mapping to every pricing."""
    raw = dumps(fixture(name))
    document = settle._tariff_document(raw)
    assert settle._tariff_document(raw) is document
    first = TariffEnginePricer().price({"T": document}, CDR, tz="Europe/Amsterdam")
    assert document == loads(raw)
    assert TariffEnginePricer().price({"T": document}, CDR, tz="Europe/Amsterdam") == first

"""A scenario's locations are what the mock CPO publishes over OCPI: an id, country or coordinates
the eMSP must refuse, or two locations under one URL, are the author's invalid input (exit 2 naming
the field), not a run graded as the eMSP's failure or silently losing EVSEs (review3 F3, F4)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.scenario import ScenarioError, load_scenario

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"
Mutation = Callable[[dict[str, Any]], None]


def _load(tmp_path: Path, mutate: Mutation) -> None:
    data = yaml.safe_load(SMOKE.read_text())
    mutate(data)
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    for name in ("standard.json",):
        (tmp_path / "tariffs" / name).write_text((SMOKE.parent / "tariffs" / name).read_text())
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    load_scenario(str(path))


def _second_location(location_id: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        locations = data["cpos"][0]["locations"]
        other = copy.deepcopy(locations[0])
        other["id"] = location_id
        other["stations"] = [{"id": "CS-OTHER-1", "ocpp": "1.6"}]
        locations.append(other)

    return mutate


def _second_cpo_with_location(location_id: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        cpo = copy.deepcopy(data["cpos"][0])
        cpo.update(id="cpo-other", party_id="OTH")
        cpo["locations"][0].update(id=location_id, stations=[{"id": "CS-OTHER-1", "ocpp": "1.6"}])
        data["cpos"].append(cpo)

    return mutate


@pytest.mark.parametrize("location_id", ["LOC-UTR-1", "loc-utr-1"])
def test_a_location_id_used_twice_in_one_cpo_is_refused(tmp_path: Path, location_id: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, _second_location(location_id))
    assert caught.value.field == "cpos[0].locations[1].id"
    assert "used twice" in caught.value.reason


def test_the_same_location_id_at_two_cpos_is_accepted(tmp_path: Path) -> None:
    _load(tmp_path, _second_cpo_with_location("LOC-UTR-1"))  # other party: other URL, other object


def _set_location(**fields: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["cpos"][0]["locations"][0].update(fields)

    return mutate


def _set_cpo_version(version: str, **fields: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["cpos"][0]["ocpi_version"] = version
        data["cpos"][0]["locations"][0].update(fields)

    return mutate


WHERE = "cpos[0].locations[0]"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set_location(id="Ünï/位置 ?#"), f"{WHERE}.id"),
        (_set_location(id="LOC 1"), f"{WHERE}.id"),
        (_set_location(id="L" * 37), f"{WHERE}.id"),
        (_set_location(country="nld"), f"{WHERE}.country"),
        (_set_location(country="NL"), f"{WHERE}.country"),
        (_set_location(latitude="north"), f"{WHERE}.latitude"),
        (_set_location(longitude="5.12"), f"{WHERE}.longitude"),
        (_set_location(latitude="52.090"), f"{WHERE}.latitude"),
        (_set_cpo_version("2.1.1", latitude="52.09"), f"{WHERE}.latitude"),
        (_set_cpo_version("2.3.0", longitude="5.12142012"), f"{WHERE}.longitude"),
        (_set_location(name="n" * 256), f"{WHERE}.name"),
        (_set_location(address="a" * 46), f"{WHERE}.address"),
        (_set_location(city="Utrecht\x01"), f"{WHERE}.city"),
    ],
)
def test_a_location_the_emsp_must_refuse_is_invalid_input(
    tmp_path: Path, mutate: Mutation, field: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, mutate)
    assert caught.value.field == field, caught.value


@pytest.mark.parametrize(
    "mutate",
    [
        _set_location(latitude="52.09073", longitude="5.1214201"),  # 2.2.1: 5 to 7 decimals
        _set_cpo_version("2.1.1", latitude="-33.86882", longitude="151.209290"),
        _set_location(id="loc_1.A-b", country="DEU"),
    ],
)
def test_a_location_the_emsp_accepts_loads(tmp_path: Path, mutate: Mutation) -> None:
    _load(tmp_path, mutate)

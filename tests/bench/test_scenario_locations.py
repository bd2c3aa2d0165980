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

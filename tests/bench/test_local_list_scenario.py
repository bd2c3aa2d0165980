"""A scenario CPO's `local_list`: its mock CSMS pushes the tokens to each of its stations after the
boot, in `sim` (deterministic), on both OCPP versions; without it nothing is pushed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.runner import sim_urls
from bench.runtime.sim import SimRuntime
from bench.scenario import ScenarioError, load_scenario
from bench.trace import WireTrace
from bench.world import build_world

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(tmp_path: Path, local_list: list[str] | None) -> tuple[dict[str, list[str]], str]:
    scenario = load_scenario(SCENARIOS / "smoke.yaml")[0]
    cpo = scenario.cpos[0].model_copy(update={"local_list": local_list})
    quiet = {"drivers": 2, "unknown_tokens": 0, "arrivals_per_hour": 0.001}
    scenario = scenario.model_copy(
        update={"cpos": [cpo], "demand": scenario.demand.model_copy(update=quiet), "expectations": [],
                "duration_minutes": 10}
    )  # fmt: skip
    emsp_url, cpo_urls = sim_urls([cpo.id])
    world = build_world(scenario, SCENARIOS, emsp_base_url=emsp_url, cpo_base_urls=cpo_urls)
    trace = WireTrace(tmp_path / "trace.jsonl")
    SimRuntime(world, trace).run()
    trace.close()
    lists = {sid: sorted(st.upkeep.local_list.entries) for sid, st in world.stations.items()}
    return lists, (tmp_path / "trace.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("local_list", [["LL-1", "LL-2"], None])
def test_a_cpo_local_list_reaches_every_station_of_both_versions(
    tmp_path: Path, local_list: list[str] | None
) -> None:
    lists, trace = _run(tmp_path, local_list)
    assert lists and all(entries == (local_list or []) for entries in lists.values())
    assert ("SendLocalList" in trace) == (local_list is not None)
    assert "ocpp1.6" in trace and "ocpp2.0.1" in trace  # the smoke CPO has a station of each version


@pytest.mark.parametrize(
    ("local_list", "field", "reason"),
    [
        (["X" * 21], "cpos[0]", "longer than a 1.6 idTag (20)"),  # the smoke CPO has a 1.6 station
        (["X" * 37], "cpos[0].local_list[0]", "at most 36 characters"),
        ([""], "cpos[0].local_list[0]", "at least 1 character"),
    ],
)
def test_a_local_list_a_station_cannot_hold_is_invalid_input(
    tmp_path: Path, local_list: list[str], field: str, reason: str
) -> None:
    data = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text(encoding="utf-8"))
    data["cpos"][0]["local_list"] = local_list
    (tmp_path / "tariffs").mkdir()
    standard = SCENARIOS / "tariffs" / "standard.json"
    (tmp_path / "tariffs" / "standard.json").write_text(
        standard.read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert (caught.value.field, caught.value.file) == (field, str(path))
    assert reason in caught.value.reason

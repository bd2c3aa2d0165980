"""Scenario files: valid ones load, invalid ones name the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.scenario import ScenarioError, builtin_names, load_scenario

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


def _variant(tmp_path: Path, mutate: object) -> Path:
    data = yaml.safe_load(SMOKE.read_text())
    mutate(data)  # type: ignore[operator]
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    (tmp_path / "tariffs" / "standard.json").write_text(
        (SMOKE.parent / "tariffs" / "standard.json").read_text()
    )
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_builtin_smoke_loads_by_name_and_by_path() -> None:
    assert "smoke" in builtin_names()
    by_name, base = load_scenario("smoke")
    by_path, _ = load_scenario(str(SMOKE))
    assert by_name == by_path
    # Built-ins resolve from wherever the package is installed; relative tariff paths resolve beside them.
    assert (base / "smoke.yaml").is_file() and (base / "tariffs" / "standard.json").is_file()
    stations = [s for loc in by_name.cpos[0].locations for s in loc.stations]
    assert sorted(s.ocpp for s in stations) == ["1.6", "1.6", "2.0.1", "2.0.1"]
    assert by_name.demand.drivers >= 20 and by_name.demand.unknown_tokens >= 1


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda d: d.pop("cpos"), "cpos", "Field required"),
        (
            lambda d: d["cpos"][0].update(country_code="germany"),
            "cpos[0].country_code",
            "String should match",
        ),
        (
            lambda d: d["cpos"][0]["locations"][0]["stations"][0].update(ocpp="1.5"),
            "cpos[0].locations[0].stations[0].ocpp",
            "Input should be",
        ),
        (
            lambda d: d["cpos"][0]["locations"][0].update(time_zone="Mars/Olympus"),
            "cpos[0].locations[0].time_zone",
            "unknown IANA time zone",
        ),
        (lambda d: d["demand"].update(drivers=0), "demand.drivers", "greater than or equal to 1"),
        (
            lambda d: d["demand"]["energy_kwh"].update(min=50),
            "demand.energy_kwh.min",
            "min 50 is greater than max",
        ),
        (lambda d: d.update(start="2026-03-02T07:00:00"), "start", "time zone"),
        (lambda d: d.update(surprise=1), "surprise", "Extra inputs are not permitted"),
        (
            lambda d: d.update(expectations=[{"metric": "sessions.started", "value": True}]),
            "expectations[0].value",
            "a boolean is neither a number nor a summary path",
        ),
        # 1e400 read as a float is infinity; `nan` and `Infinity` as text read as numbers too.
        *(
            (
                lambda d, v=v: d.update(expectations=[{"metric": "sessions.started", "value": v}]),
                "expectations[0].value",
                "not a finite number",
            )
            for v in (float("1e400"), float("-inf"), float("nan"), "nan", "Infinity", "-inf")
        ),
        (
            lambda d: d["cpos"][0]["tariffs"].update(STD="tariffs/nope.json"),
            "cpos[0].tariffs.STD",
            "no such file",
        ),
        (lambda d: d["cpos"][0]["locations"][0].update(tariff="OTHER"), "cpos[0]", "is not one of"),
    ],
)
def test_invalid_scenario_names_file_field_and_reason(
    tmp_path: Path, mutate: object, field: str, reason: str
) -> None:
    path = _variant(tmp_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncpos: [\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.field.startswith("line ")


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("no-such-scenario")
    assert "smoke" in caught.value.reason


T0 = "2026-03-02T07:30:00Z"
T1 = "2026-03-02T08:00:00Z"


def _events(*events: dict[str, object]) -> object:
    return lambda d: d.update(events=list(events))


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (_events({"type": "meteor", "at": T0}), "events[0]", "does not match any of the expected tags"),
        (
            _events({"type": "token_block", "at": "2026-03-02T12:00:00Z", "driver": 1}),
            "events[0].at",
            "outside the scenario",
        ),
        (_events({"type": "token_block", "at": T0, "driver": 24}), "events[0].driver", "no driver 24"),
        # A correction of the CDRs sent before the scenario's start: there are none (a no-op).
        *(
            (
                _events({"type": "cdr_correction", "at": at, "cpo": "cpo-a"}),
                "events[0].at",
                "none has been sent",
            )
            for at in ("2026-03-02T07:00:00Z", "2026-03-02T08:00:00+01:00")
        ),
        (
            # duplicate is a share of the CDRs POSTed at `until`; late: 1 leaves none (review3 F11)
            _events(
                {"type": "cdr_hold", "cpo": "cpo-a", "from": T0, "until": T1, "duplicate": 1.0, "late": 1.0}
            ),
            "events[0].duplicate",
            "none is POSTed twice",
        ),
        (
            _events(
                {"type": "cdr_hold", "cpo": "cpo-a", "from": T0, "until": T1, "duplicate": 0.01, "late": 1}
            ),
            "events[0].duplicate",
            "none is POSTed twice",
        ),
        (
            _events(
                {"type": "token_block", "at": T0, "driver": 2}, {"type": "token_block", "at": T1, "driver": 2}
            ),
            "events[1].driver",
            "blocked twice",
        ),
        (
            _events({"type": "outage", "party": "cpo-z", "from": T0, "until": T1}),
            "events[0].party",
            "unknown CPO 'cpo-z'",
        ),
        (
            _events(
                {"type": "link", "cpo": "cpo-a", "link": "ocpp", "from": T0, "until": T1, "reorder": 0.1}
            ),
            "events[0]",
            "OCPI links only",
        ),
        (
            _events({"type": "link", "cpo": "cpo-a", "link": "ocpi", "from": T1, "until": T0}),
            "events[0].until",
            "must be after",
        ),
        (
            _events(
                {"type": "link", "cpo": "cpo-a", "link": "ocpi", "from": T0, "until": T1},
                {"type": "link", "cpo": "cpo-a", "link": "ocpi", "from": "2026-03-02T07:45:00Z", "until": T1},
            ),
            "events[1]",
            "windows may not overlap",
        ),
        (
            _events({"type": "station_offline", "stations": ["CS-NOPE"], "from": T0, "until": T1}),
            "events[0].stations",
            "unknown station 'CS-NOPE'",
        ),
        (
            _events({"type": "tariff_change", "at": T0, "cpo": "cpo-a", "tariff": "NOPE", "file": "t.json"}),
            "events[0].tariff",
            "is not one of",
        ),
        (
            _events(
                {
                    "type": "tariff_change",
                    "at": T0,
                    "cpo": "cpo-a",
                    "tariff": "STD",
                    "file": "tariffs/standard.json",
                },
                {
                    "type": "tariff_change",
                    "at": T1,
                    "cpo": "cpo-a",
                    "tariff": "STD",
                    "file": "tariffs/x.json",
                },
            ),
            "events[1].file",
            "no such file",
        ),
        (
            _events(
                {
                    "type": "tariff_change",
                    "at": T0,
                    "cpo": "cpo-a",
                    "tariff": "STD",
                    "file": "t.json",
                    "new_id": "STD",
                }
            ),
            "events[0].new_id",
            "already taken",
        ),
        (lambda d: d["demand"].update(time_zone="Nowhere/City"), "demand.time_zone", "unknown IANA"),
        (
            lambda d: d["demand"].update(arrival_profile=[{"from": "17:00", "per_hour": 3}]),
            "demand",
            "not both",
        ),
        (
            lambda d: (
                d["demand"].pop("arrivals_per_hour"),
                d["demand"].update(
                    arrival_profile=[{"from": "17:00", "per_hour": 3}, {"from": "09:00", "per_hour": 1}]
                ),
            ),
            "demand",
            "increasing time of day",
        ),
        (
            lambda d: d["demand"].update(
                ev_models=[{"name": "x", "battery_kwh": 50}], soc_at_arrival={"min": 10, "max": 90}
            ),
            "demand.soc_at_arrival.max",
            "soc_at_arrival.max 90 exceeds soc_target.min 80",
        ),
        (lambda d: d["cpos"][0].update(mid_session_tariff="whatever"), "cpos[0].mid_session_tariff", "Input"),
    ],
)
def test_invalid_timeline_names_file_field_and_reason(
    tmp_path: Path, mutate: object, field: str, reason: str
) -> None:
    path = _variant(tmp_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.file == str(path)
    assert caught.value.field == field, caught.value
    assert reason in caught.value.reason


def test_a_chain_of_tariff_changes_and_every_event_type_loads(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        _events(
            {
                "type": "tariff_change",
                "at": T0,
                "cpo": "cpo-a",
                "tariff": "STD",
                "file": "tariffs/standard.json",
                "new_id": "STD-2",
            },
            {
                "type": "tariff_change",
                "at": T1,
                "cpo": "cpo-a",
                "tariff": "STD-2",
                "file": "tariffs/standard.json",
            },
            {"type": "link", "cpo": "cpo-a", "link": "ocpi", "from": T0, "until": T1, "latency_ms": 2000},
            {"type": "outage", "party": "emsp", "from": T0, "until": T1, "mode": "refused"},
            {"type": "station_offline", "stations": ["CS-A-16-1", "CS-A-201-1"], "from": T0, "until": T1},
            {"type": "token_block", "at": T0, "driver": 0},
            {"type": "cdr_hold", "cpo": "cpo-a", "from": T0, "until": T1, "duplicate": 0.1},
        ),
    )
    scenario, _ = load_scenario(str(path))
    assert [e.type for e in scenario.events][:2] == ["tariff_change", "tariff_change"]
    assert scenario.events[1].published_id() == "STD-2-202603020800"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "code"),
    [("bad\x01", "U+0001"), ("line\nbreak", "U+000A"), ("tab\there", "U+0009"), ("nul\x00", "U+0000"),
     ("del\x7f", "U+007F"), ("nc\ufffe", "U+FFFE")],
)  # fmt: skip
def test_an_expectation_name_with_a_control_character_is_refused(
    tmp_path: Path, name: str, code: str
) -> None:
    # junit.xml and report.html show the name: XML 1.0 cannot hold most control characters.
    path = _variant(tmp_path, lambda d: d["expectations"][0].update(name=name))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.field == "expectations[0].name"
    assert code in caught.value.reason


def test_an_expectation_name_in_any_script_loads(tmp_path: Path) -> None:
    path = _variant(tmp_path, lambda d: d["expectations"][0].update(name='Ünï 位置 <b> & "q" ✓'))
    load_scenario(str(path))

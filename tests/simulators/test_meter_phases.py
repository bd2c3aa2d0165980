"""The CSMS reads a MeterValue's overall energy/power, not one phase's: the sample without `phase`
(1.6 §7.45, 2.0.1 PhaseEnumType: absent means overall), else the sum over L1..L3."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from simulators.ocppj import OcppVersion
from simulators.ocppj.meter import ENERGY, POWER, read_sample


def sample(version: OcppVersion, measurand: str, value: int, phase: str | None = None) -> dict[str, Any]:
    unit = "Wh" if measurand == ENERGY else "W"
    out: dict[str, Any] = {"measurand": measurand}
    if version == "1.6":
        out |= {"value": str(value), "unit": unit}
    else:
        out |= {"value": value, "unitOfMeasure": {"unit": unit}}
    if phase is not None:
        out["phase"] = phase
    return out


def read(version: OcppVersion, *samples: dict[str, Any]) -> tuple[int | None, Decimal | None]:
    return read_sample(version, {"timestamp": "2026-03-02T07:30:00Z", "sampledValue": list(samples)})


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_overall_sample_wins_over_phases_sent_before_it(version: OcppVersion) -> None:
    phases = [sample(version, ENERGY, 2000, p) for p in ("L1", "L2", "L3")]
    power = [sample(version, POWER, 3700, "L1"), sample(version, POWER, 11100)]
    assert read(version, *phases, sample(version, ENERGY, 6000), *power) == (6000, Decimal(11100))


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("names", [("L1", "L2", "L3"), ("L1-N", "L2-N", "L3-N")])
def test_phases_alone_are_summed(version: OcppVersion, names: tuple[str, str, str]) -> None:
    energy = [sample(version, ENERGY, wh, p) for wh, p in zip((1000, 2000, 3001), names, strict=True)]
    power = [sample(version, POWER, 3680, p) for p in names]
    assert read(version, *energy, *power) == (6001, Decimal(11040))


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_neutral_and_line_to_line_values_are_not_added(version: OcppVersion) -> None:
    energy = [
        sample(version, ENERGY, 500, "L1"),
        sample(version, ENERGY, 700, "N"),
        sample(version, ENERGY, 900, "L1-L2"),
        sample(version, ENERGY, 999, "L1-N"),  # L1 again, under its other name: counted once
    ]
    assert read(version, *energy) == (500, None)


def test_a_single_phase_register_is_the_total() -> None:
    assert read("2.0.1", sample("2.0.1", ENERGY, 4200, "L1")) == (4200, None)

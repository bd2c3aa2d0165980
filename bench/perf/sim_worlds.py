"""Worlds and baselines for `bench.perf.sim`: scaled smoke, sized worlds, the codec's round-trip rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bench.scenario import Scenario, load_scenario
from simulators.ocppj import CallResult, OcppVersion, codec

STATIONS_PER_LOCATION = 4  # as smoke's one location: a large world is many such sites, not one car park


def scaled(scale: int) -> tuple[Scenario, Path]:
    """Smoke with its stations, drivers and arrival rate multiplied by `scale` (one CPO, one location)."""
    scenario, base = load_scenario("smoke")
    if scale == 1:
        return scenario, base
    cpo = scenario.cpos[0]
    location = cpo.locations[0]
    stations = [
        station.model_copy(update={"id": f"{station.id}-x{copy}"})
        for copy in range(scale)
        for station in location.stations
    ]
    location = location.model_copy(update={"stations": stations})
    cpo = cpo.model_copy(update={"locations": [location]})
    demand = scenario.demand.model_copy(
        update={
            "drivers": scenario.demand.drivers * scale,
            "arrivals_per_hour": scenario.demand.arrivals_per_hour * scale,
        }
    )
    return scenario.model_copy(update={"cpos": [cpo], "demand": demand}), base


def sized(stations: int, sessions: int, hours: float = 2) -> tuple[Scenario, Path]:
    """About `sessions` visits over `hours` (whole minutes) on `stations` stations (smoke's
    four-station site, copied).

    Each driver comes about once (as many drivers as visits), so driver choice never limits arrivals.
    """
    scenario, base = load_scenario("smoke")
    cpo = scenario.cpos[0]
    site = cpo.locations[0]
    locations = []
    for n in range(max(stations // STATIONS_PER_LOCATION, 1)):
        copies = [s.model_copy(update={"id": f"{s.id}-L{n}"}) for s in site.stations]
        locations.append(site.model_copy(update={"id": f"{site.id}-{n}", "stations": copies}))
    demand = scenario.demand.model_copy(update={"drivers": sessions, "arrivals_per_hour": sessions / hours})
    return (
        scenario.model_copy(
            update={
                "cpos": [cpo.model_copy(update={"locations": locations})],
                "demand": demand,
                "duration_minutes": round(hours * 60),
            }
        ),
        base,
    )


def _frames() -> list[tuple[OcppVersion, str, dict[str, object], dict[str, object]]]:
    """(version, action, call payload, result payload): what a charging session mostly sends."""
    at = "2026-03-02T07:00:00Z"
    sample16 = {
        "timestamp": at,
        "sampledValue": [{"value": "1234", "measurand": "Energy.Active.Import.Register"}],
    }
    sample201 = {
        "timestamp": at,
        "sampledValue": [{"value": Decimal("1234"), "measurand": "Energy.Active.Import.Register"}],
    }
    return [
        ("1.6", "MeterValues", {"connectorId": 1, "transactionId": 7, "meterValue": [sample16]}, {}),
        ("1.6", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}, {}),
        ("1.6", "Heartbeat", {}, {"currentTime": at}),
        (
            "2.0.1",
            "TransactionEvent",
            {
                "eventType": "Updated",
                "timestamp": at,
                "triggerReason": "MeterValuePeriodic",
                "seqNo": 3,
                "transactionInfo": {"transactionId": "T-1", "chargingState": "Charging"},
                "meterValue": [sample201],
            },
            {},
        ),
    ]


def codec_round_trips(seconds: float, clock: Callable[[], float] = time.perf_counter) -> float:
    """Round trips per second of `clock` (wall; time.process_time: CPU): encode a CALL, decode it,
    encode its CALLRESULT, decode that (every step schema-validated, as every frame of a run is)."""
    cases = [(codec(v), a, p, r) for v, a, p, r in _frames()]

    def round_trips() -> None:
        for c, action, payload, result in cases:
            call = c.decode(c.encode_call("id-1", action, payload), pending={})
            answer = c.decode(c.encode_result("id-1", action, result), pending={"id-1": action})
            assert isinstance(answer, CallResult) and call.unique_id == "id-1"

    round_trips()  # compiles the schemas: a one-off cost, as in a run
    done, started = 0, clock()
    while (elapsed := clock() - started) < seconds:
        round_trips()
        done += len(cases)
    return done / elapsed

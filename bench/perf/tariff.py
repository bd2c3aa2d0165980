"""Tariff engine throughput: `python -m bench.perf.tariff [--seconds S] [--cdrs N] [--profile]`.

Prices realistic CDRs (3-5 charging periods: charging across the evening peak boundary, then
parking) against a typical three-element tariff (energy, time-of-day time, parking), single core.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from emsp.settlement.tariff import ChargingPeriod, Tariff, parse_tariff, price_cdr, price_charging_periods
from emsp.settlement.tariff.cdr import parse_charging_periods
from emsp.timeutil import format_utc, parse_utc

TZ = "Europe/Amsterdam"
TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "EXB",
    "id": "bench-3el",
    "currency": "EUR",
    "elements": [
        {  # peak charging time 07:00-20:00 local
            "price_components": [
                {"type": "TIME", "price": Decimal("1.50"), "vat": Decimal(21), "step_size": 60}
            ],
            "restrictions": {"start_time": "07:00", "end_time": "20:00"},
        },
        {  # energy always, off-peak time as fallback
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.35"), "vat": Decimal(21), "step_size": 1},
                {"type": "TIME", "price": Decimal("0.60"), "vat": Decimal(21), "step_size": 60},
            ]
        },
        {  # parking
            "price_components": [
                {"type": "PARKING_TIME", "price": Decimal("6.00"), "vat": Decimal(21), "step_size": 300}
            ]
        },
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}


def make_cdrs(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic CDRs, periods split at 20:00 local as a CPO must (mod_cdrs ChargingPeriod)."""
    rng = random.Random(seed)
    out = []
    base = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    for _ in range(n):
        start = base + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        power = Decimal(rng.choice((7, 11, 22, 50)))
        periods: list[dict[str, Any]] = []
        t = start
        for _k in range(rng.randint(2, 4)):  # charging periods
            minutes = rng.randint(10, 90)
            hours = (Decimal(minutes) / 60).quantize(Decimal("0.0001"))
            energy = (power * hours * Decimal("0.9")).quantize(Decimal("0.001"))
            periods.append(
                {
                    "start_date_time": format_utc(t),
                    "dimensions": [{"type": "ENERGY", "volume": energy}, {"type": "TIME", "volume": hours}],
                    "tariff_id": "bench-3el",
                }
            )
            t += timedelta(minutes=minutes)
        park = rng.randint(5, 120)
        periods.append(
            {
                "start_date_time": format_utc(t),
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal(0)},
                    {"type": "PARKING_TIME", "volume": (Decimal(park) / 60).quantize(Decimal("0.0001"))},
                ],
                "tariff_id": "bench-3el",
            }
        )
        t += timedelta(minutes=park)
        out.append(
            {
                "start_date_time": format_utc(start),
                "end_date_time": format_utc(t),
                "currency": "EUR",
                "charging_periods": periods,
            }
        )
    return out


def _rate(fn: Callable[[int], None], count: int, seconds: float) -> float:
    done = 0
    began = time.perf_counter()
    while True:
        for i in range(count):
            fn(i)
        done += count
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cdrs", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    tariff: Tariff = parse_tariff(TARIFF)
    cdrs = make_cdrs(args.cdrs)
    parsed: list[tuple[list[ChargingPeriod], datetime]] = [
        (parse_charging_periods(c["charging_periods"]), parse_utc(c["end_date_time"])) for c in cdrs
    ]

    def from_json(i: int) -> None:
        price_cdr(tariff, cdrs[i], tz=TZ)

    def from_periods(i: int) -> None:
        periods, end = parsed[i]
        price_charging_periods(tariff, periods, end=end, tz=TZ)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _rate(from_json, len(cdrs), args.seconds)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    mean_periods = sum(len(c["charging_periods"]) for c in cdrs) / len(cdrs)
    print(f"tariff: 3 elements (energy, time of day, parking); {len(cdrs)} CDRs, {mean_periods:.1f} periods")
    json_rate = _rate(from_json, len(cdrs), args.seconds)
    print(f"price_cdr (CDR JSON with Decimals -> totals): {json_rate:,.0f} CDRs/s")
    periods_rate = _rate(from_periods, len(cdrs), args.seconds)
    print(f"price_charging_periods (pre-parsed periods): {periods_rate:,.0f} CDRs/s")


if __name__ == "__main__":
    main()

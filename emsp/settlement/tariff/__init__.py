"""OCPI 2.2.1 tariff engine: pure functions, no IO (see engine.py for the rules implemented)."""

from .cdr import CdrDimension, CdrTotals, ChargingPeriod, MeterSample, PricedLine, PriceResult
from .engine import component_at, price_cdr, price_charging_periods
from .lint import LintReport, lint_tariff
from .model import (
    Price,
    PriceComponent,
    Tariff,
    TariffElement,
    TariffError,
    TariffRestrictions,
    parse_tariff,
    parse_tariff_211,
)
from .periods import build_charging_periods, price_session, quote
from .policy import COMBINED_TIME_STEP_POLICY, DEFAULT_POLICY, POLICIES, PricingPolicy
from .reading import SPEC_READING, Reading

__all__ = [
    "COMBINED_TIME_STEP_POLICY",
    "DEFAULT_POLICY",
    "POLICIES",
    "SPEC_READING",
    "CdrDimension",
    "CdrTotals",
    "ChargingPeriod",
    "LintReport",
    "MeterSample",
    "Price",
    "PriceComponent",
    "PriceResult",
    "PricedLine",
    "PricingPolicy",
    "Reading",
    "Tariff",
    "TariffElement",
    "TariffError",
    "TariffRestrictions",
    "build_charging_periods",
    "component_at",
    "lint_tariff",
    "parse_tariff",
    "parse_tariff_211",
    "price_cdr",
    "price_charging_periods",
    "price_session",
    "quote",
]

"""Contract pricing, table-driven: subscription included kWh / overage, discount, fleet caps, VAT."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from emsp.billing.contracts import (
    ContractTerms,
    FleetTerms,
    RetailTariff,
    SessionUsage,
    SubscriptionTerms,
    retail_charge,
)
from emsp.billing.jurisdictions import for_country
from emsp.billing.ledger import period_of

D = Decimal
RETAIL = RetailTariff(price_per_kwh=D("0.50"))


def _sub(**kw: object) -> ContractTerms:
    return ContractTerms(kind="subscription", retail=RETAIL, subscription=SubscriptionTerms(**kw))  # type: ignore[arg-type]


def _fleet(**kw: object) -> ContractTerms:
    return ContractTerms(kind="fleet", retail=RETAIL, fleet=FleetTerms(**kw))  # type: ignore[arg-type]


PAYG = ContractTerms(kind="pay_as_you_go", retail=RETAIL)


@pytest.mark.parametrize(
    ("terms", "usage", "excl", "detail"),
    [
        # pay-as-you-go: the retail list price, to the cent half-up
        (PAYG, SessionUsage(D("10"), D("5.005")), D("5.01"), {"rule": "retail_tariff"}),
        # included kWh: all free, part free, none left
        (
            _sub(monthly_fee=D("9.99"), included_kwh=D("50"), overage_per_kwh=D("0.30")),
            SessionUsage(D("20"), D("10"), period_kwh_before=D("0")),
            D("0.00"),
            {"included_kwh": "20", "overage_kwh": "0"},
        ),
        (
            _sub(monthly_fee=D("9.99"), included_kwh=D("50"), overage_per_kwh=D("0.30")),
            SessionUsage(D("20"), D("10"), period_kwh_before=D("40")),
            D("3.00"),
            {"included_kwh": "10", "overage_kwh": "10"},
        ),
        (
            _sub(monthly_fee=D("9.99"), included_kwh=D("50"), overage_per_kwh=D("0.30")),
            SessionUsage(D("20"), D("10"), period_kwh_before=D("75")),
            D("6.00"),
            {"included_kwh": "0", "overage_kwh": "20"},
        ),
        # discount off the list price
        (_sub(monthly_fee=D("4.99"), discount_pct=D("20")), SessionUsage(D("10"), D("5")), D("4.00"), {}),
        (_sub(monthly_fee=D("4.99"), discount_pct=D("15")), SessionUsage(D("1"), D("0.33")), D("0.28"), {}),
        # rounded once (BILLING.md): 2.9624 x 90% = 2.66616 -> 2.67, not 2.96 x 90% = 2.664 -> 2.66
        (
            _sub(monthly_fee=D("9.99"), discount_pct=D("10")),
            SessionUsage(D("7.406"), D("2.9624")),
            D("2.67"),
            {"list_excl": "2.96"},
        ),
        # fleet: full reimbursement, under the cap, reaching the cap, past the cap
        (
            _fleet(),
            SessionUsage(D("10"), D("5")),
            D("5.00"),
            {"reimbursed_excl": "5.00", "driver_excl": "0.00"},
        ),
        (
            _fleet(cap_per_vehicle_period=D("20")),
            SessionUsage(D("10"), D("5"), vehicle_reimbursed_before=D("17")),
            D("5.00"),
            {"reimbursed_excl": "3", "driver_excl": "2.00"},
        ),
        (
            _fleet(cap_per_vehicle_period=D("20")),
            SessionUsage(D("10"), D("5"), vehicle_reimbursed_before=D("25")),
            D("5.00"),
            {"reimbursed_excl": "0", "driver_excl": "5.00"},
        ),
        (
            _fleet(reimbursed_pct=D("50")),
            SessionUsage(D("10"), D("5")),
            D("5.00"),
            {"reimbursed_excl": "2.50", "driver_excl": "2.50"},
        ),
    ],
)
def test_retail_charge(
    terms: ContractTerms, usage: SessionUsage, excl: Decimal, detail: dict[str, str]
) -> None:
    charge = retail_charge(terms, usage)
    assert charge.excl_vat == excl
    assert charge.excl_vat == charge.excl_vat.quantize(D("0.01"))
    for key, value in detail.items():
        assert charge.detail[key] == value


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"monthly_fee": D(5), "included_kwh": D(10)}, "overage_per_kwh"),
        (
            {"monthly_fee": D(5), "included_kwh": D(10), "overage_per_kwh": D(1), "discount_pct": D(5)},
            "not both",
        ),
        ({"monthly_fee": D(-1)}, "greater than or equal"),
        ({"monthly_fee": D(5), "discount_pct": D(101)}, "less than or equal"),
    ],
)
def test_invalid_subscription_terms(kw: dict[str, Decimal], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        SubscriptionTerms(**kw)  # type: ignore[arg-type]


def test_a_kind_needs_its_terms() -> None:
    with pytest.raises(ValidationError, match="subscription terms"):
        ContractTerms(kind="subscription", retail=RETAIL)
    with pytest.raises(ValidationError, match="fleet terms"):
        ContractTerms(kind="fleet", retail=RETAIL)


@pytest.mark.parametrize(
    ("at", "tz", "period"),
    [
        (datetime(2026, 3, 31, 21, 59, tzinfo=UTC), "Europe/Berlin", "2026-03"),  # 23:59 CEST
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), "Europe/Berlin", "2026-04"),  # midnight local
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), "UTC", "2026-03"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "America/New_York", "2025-12"),
    ],
)
def test_period_boundaries_follow_the_account_time_zone(at: datetime, tz: str, period: str) -> None:
    assert period_of(at, tz) == period


@pytest.mark.parametrize(
    ("country", "excl", "vat", "signed_required"),
    [
        ("DEU", D("10.00"), D("1.90"), True),
        ("DE", D("0.05"), D("0.01"), True),  # 0.0095 half-up
        ("NLD", D("10.00"), D("2.10"), False),
        ("NL", D("0.02"), D("0.00"), False),  # 0.0042
        ("XXX", D("10.00"), D("0.00"), False),  # no plug-in: VAT unknown, 0 with a label
    ],
)
def test_vat_per_jurisdiction(country: str, excl: Decimal, vat: Decimal, signed_required: bool) -> None:
    j = for_country(country)
    assert j.vat(excl) == vat
    assert j.signed_data_required is signed_required


def test_de_requires_signed_data_nl_does_not() -> None:
    cdr = {"country_code": "DE", "party_id": "CPA", "cdr_location": {"evse_id": "DE*CPA*E1", "address": "A"}}
    _, missing_de = for_country("DEU").evidence(cdr)
    _, missing_nl = for_country("NLD").evidence(cdr)
    assert missing_de == ["signed_data"]
    assert missing_nl == []
    signed = {
        "encoding_method": "OCMF",
        "signed_values": [{"nature": "End", "plain_data": "x", "signed_data": "y"}],
    }
    fields, missing = for_country("DEU").evidence(cdr | {"signed_data": signed})
    assert missing == [] and fields["signed_data"] == signed


def test_price_display_shows_per_kwh_incl_vat() -> None:
    shown = for_country("NLD").price_display(D("0.50"), "EUR")
    assert shown["price_per_kwh_incl_vat"] == "0.6050"
    assert for_country("DEU").price_display(D("0.50"), "EUR")["price_per_kwh_incl_vat"] == "0.5950"


def test_a_registered_jurisdiction_replaces_the_default() -> None:
    from emsp.billing.jurisdictions import _REGISTRY, Jurisdiction, register

    assert for_country("BEL").vat_rate is None
    try:
        register(Jurisdiction("BE", D(21), invoice_fields=("evse_id",), label="Belgium"))
        assert for_country("BEL").vat(D("10.00")) == D("2.10")
    finally:
        _REGISTRY.pop("BE", None)

"""The fraud thresholds of `serve emsp` (its YAML `fraud:` section) and of a scenario (`emsp.fraud:`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from emsp_helpers import FakePricer, V, cdr, location, register, tariff
from sqlalchemy import select

from emsp.core import EmspCore, EmspSettings
from emsp.service.config import ConfigError, load_config
from emsp.service.run import build_core
from emsp.services.fraud import FraudConfig
from emsp.storage.tables import ProcessedEventRow

CONFIG = """
emsp: {country_code: NL, party_id: EMS, business_name: Test eMSP, public_url: http://127.0.0.1:9}
admin_token: admin-secret
"""


def test_the_service_config_sets_the_thresholds(tmp_path: Path) -> None:
    path = tmp_path / "emsp.yaml"
    path.write_text(CONFIG + "fraud: {max_speed_kmh: 90, max_authorizations_per_hour: 4}\n")
    core = build_core(load_config(path), "sqlite://", str(path))
    assert core.settings.fraud == FraudConfig(max_speed_kmh=90, max_authorizations_per_hour=4)
    assert core.fraud.config is core.settings.fraud


def test_without_a_fraud_section_the_defaults_hold(tmp_path: Path) -> None:
    path = tmp_path / "emsp.yaml"
    path.write_text(CONFIG)
    assert load_config(path).fraud.config() == FraudConfig()


@pytest.mark.parametrize(
    ("section", "field"),
    [("{max_speed_kmh: 0}", "fraud.max_speed_kmh"), ("{speed: 3}", "fraud.speed"),
     ("{max_session_kwh: .nan}", "fraud.max_session_kwh"),
     # YAML 1.1 booleans were read as 1: one authorization an hour, a 1 km/h speed limit
     ("{max_authorizations_per_hour: yes}", "fraud.max_authorizations_per_hour"),
     ("{max_speed_kmh: true}", "fraud.max_speed_kmh"), ("{max_session_kwh: on}", "fraud.max_session_kwh")],
)  # fmt: skip
def test_bad_thresholds_name_their_field(tmp_path: Path, section: str, field: str) -> None:
    path = tmp_path / "emsp.yaml"
    path.write_text(CONFIG + f"fraud: {section}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.field == field


def test_a_scenario_sets_the_thresholds_and_federation() -> None:
    from bench.scenario import load_scenario

    scenario, _ = load_scenario("fraud-burst")
    assert scenario.emsp.federated_identity and scenario.emsp.fraud.config().max_speed_kmh == 120
    smoke, _ = load_scenario("smoke")
    assert not smoke.emsp.federated_identity and smoke.emsp.fraud.config() == FraudConfig(enabled=False)
    assert FraudConfig().max_session_kwh == Decimal(150)


@pytest.mark.parametrize(("enabled", "handlers"), [
    (True, ["cdrs.count_received", "fraud.cdr_flags", "settlement.settle"]),
    (False, ["cdrs.count_received", "settlement.settle"]),
])  # fmt: skip
def test_a_disabled_guard_runs_no_cdr_check(enabled: bool, handlers: list[str]) -> None:
    """Disabled, the CDR check could flag nothing: no unit of work or key is spent on it, and the
    CDR is still counted and billed."""
    core = EmspCore(EmspSettings(fraud=FraudConfig(enabled=enabled)), pricer=FakePricer())
    cpo = register(core)
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    assert cpo.call("POST", f"{V}/cdrs", cdr()).status == 201
    with core.db.reading() as db:
        keys = list(db.scalars(select(ProcessedEventRow.key)))
    assert sorted(k.split("|")[0] for k in keys if k.endswith("|cdr:DE*CPA:CDR1")) == handlers
    assert len(core.records().invoice_lines) == 1
    assert [e.state for e in core.events_after(0, 100) if e.kind.startswith("cdr.")] == ["done", "done"]

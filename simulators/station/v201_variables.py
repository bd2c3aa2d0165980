"""An OCPP 2.0.1 station's device model variables, as data: what GetVariables, SetVariables,
GetBaseReport (v201_calls.py) and GetReport (v201_report.py) read and write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from simulators.station.setting_values import seconds_text, setting_bool, setting_int, setting_seconds
from simulators.station.v201_core import Station201Core


@dataclass(frozen=True, slots=True)
class Var:
    """A device-model variable (Actual attribute): read, and unless read-only, write (ValueError on a
    value it cannot take)."""

    data_type: str  # VariableCharacteristicsType.dataType
    get: Callable[[Station201Core], str]
    put: Callable[[Station201Core, str, datetime], None] | None = None


def _timeout(st: Station201Core, value: str, now: datetime) -> None:
    seconds = setting_seconds(value)
    st.call_timeout = timedelta(seconds=seconds) if seconds else None


# (component, variable, variable instance) -> Var. Names from the 2.0.1 device model (part 2 appendix).
VARIABLES: Mapping[tuple[str, str, str | None], Var] = MappingProxyType(
    {
        ("OCPPCommCtrlr", "HeartbeatInterval", None): Var(
            "integer",
            lambda st: seconds_text(st._heartbeat),
            lambda st, v, now: st.set_heartbeat(setting_seconds(v), now),
        ),
        ("OCPPCommCtrlr", "MessageTimeout", "Default"): Var(
            "integer", lambda st: seconds_text(st.call_timeout), _timeout
        ),
        ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"): Var(
            "integer",
            lambda st: str(st.tx_attempts),
            lambda st, v, now: setattr(st, "tx_attempts", setting_int(v, 1)),
        ),
        ("SampledDataCtrlr", "TxUpdatedInterval", None): Var(
            "integer",
            lambda st: seconds_text(st.meter_interval),
            lambda st, v, now: st.set_meter_interval(setting_seconds(v, 1), now),
        ),
        ("AuthCtrlr", "AuthorizeRemoteStart", None): Var(
            "boolean",
            lambda st: str(st.authorize_remote).lower(),
            lambda st, v, now: setattr(st, "authorize_remote", setting_bool(v)),
        ),
        ("TxCtrlr", "StopTxOnInvalidId", None): Var(
            "boolean",
            lambda st: str(st.stop_on_invalid).lower(),
            lambda st, v, now: setattr(st, "stop_on_invalid", setting_bool(v)),
        ),
        ("SmartChargingCtrlr", "Enabled", None): Var("boolean", lambda st: "true"),
        ("SmartChargingCtrlr", "RateUnit", None): Var("MemberList", lambda st: "A,W"),
        ("SmartChargingCtrlr", "PeriodsPerSchedule", None): Var("integer", lambda st: "24"),
        ("SmartChargingCtrlr", "ProfileStackLevel", None): Var("integer", lambda st: "8"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): Var("integer", lambda st: "50"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): Var("integer", lambda st: "50"),
        ("ChargingStation", "Model", None): Var("string", lambda st: st.model),
        ("ChargingStation", "VendorName", None): Var("string", lambda st: st.vendor),
    }
)

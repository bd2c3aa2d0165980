"""What the mock CSMS observed on its OCPP side, for the CPO's OCPI side and for the records.

Energy is an integer Wh count as on the OCPP wire; the OCPI side converts to kWh (design principle 7).
Transaction ids are strings in both versions (1.6 integers are written in decimal). For 2.0.1
`connector_id` is the EVSE id (the virtual stations have one connector per EVSE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simulators.ocppj import OcppVersion


@dataclass(frozen=True, slots=True)
class StationBooted:
    station_id: str
    version: OcppVersion
    at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationRequested:
    """The CSMS holds the Authorize answer until `Csms.on_authorization(ref, ...)`."""

    ref: str
    station_id: str
    token_uid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    station_id: str
    connector_id: int
    transaction_id: str
    token_uid: str
    meter_start_wh: int
    at: datetime


@dataclass(frozen=True, slots=True)
class MeterSampled:
    station_id: str
    transaction_id: str
    at: datetime
    energy_wh: int  # the meter register, not the energy since the start
    power_w: Decimal | None


@dataclass(frozen=True, slots=True)
class ChargingStateChanged:
    """The EV stopped drawing (full: charging False) or resumed (charging True)."""

    station_id: str
    transaction_id: str
    charging: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class TransactionEnded:
    station_id: str
    transaction_id: str
    at: datetime
    meter_stop_wh: int
    reason: str  # the wire reason (1.6 Reason / 2.0.1 ReasonEnumType); "Local" when absent
    signed: tuple[str, ...] = ()  # calibration-law signed meter records (simulators/ocppj/signed.py)


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    station_id: str
    connector_id: int
    status: str  # the wire status name of the station's version
    at: datetime


@dataclass(frozen=True, slots=True)
class UpkeepStatus:
    """A station reported how a job of its upkeep goes: `job` firmware (1.6 FirmwareStatusNotification
    and SignedFirmwareStatusNotification, 2.0.1 L01), publish (2.0.1 L03), log or diagnostics; `location`:
    where a published image is served (2.0.1 Published)."""

    station_id: str
    job: str
    status: str
    request_id: int | None
    at: datetime
    location: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceModelReported:
    """Part of a 2.0.1 device-model report (NotifyReport, B07/B08): each variable's Actual value, keyed
    `Component/Variable` (`/instance` when it has one); `more`: the report continues (tbc)."""

    station_id: str
    request_id: int
    values: tuple[tuple[str, str], ...]
    more: bool
    at: datetime


CsmsEvent = (
    StationBooted
    | AuthorizationRequested
    | TransactionStarted
    | MeterSampled
    | ChargingStateChanged
    | TransactionEnded
    | ConnectorStatusChanged
    | UpkeepStatus
    | DeviceModelReported
)

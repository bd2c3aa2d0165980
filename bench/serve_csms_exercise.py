"""`serve csms --exercise`: every CSMS-initiated CALL of a version's Core set (1.6 Core, Remote
Trigger, Smart Charging; 2.0.1 blocks B, F, K, and the G/C/P calls beside them) with a valid, harmless
payload: queries first, then harmless changes (a meter interval of 60 s, a 16 A default profile that is
cleared again), a remote start and its stop, and the Reset last (it reboots the charger).

Calls that could harm a real charger (firmware updates, network profiles, certificates, local lists,
customer data) are left out on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulators.cpo.commands import ocpp16_transaction_id
from simulators.ocppj import OcppVersion, Payload

EXERCISE_TOKEN = "EMSP-BENCH-EXERCISE"


@dataclass(frozen=True, slots=True)
class Context:
    """What a payload may depend on: the station's last transaction (for the remote stop)."""

    transaction_id: str | None


Step = tuple[str, Callable[[Context], Payload]]


def _const(payload: Payload) -> Callable[[Context], Payload]:
    return lambda ctx: payload


def _transaction16(ctx: Context) -> int:
    # None (nothing running, or a 2.0.1 id from before a reconnect): 0, which the charger refuses.
    found = ocpp16_transaction_id(ctx.transaction_id)
    return found if found is not None else 0


_SCHEDULE = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}

V16: list[Step] = [
    ("GetConfiguration", _const({})),
    ("ChangeConfiguration", _const({"key": "MeterValueSampleInterval", "value": "60"})),
    ("ClearCache", _const({})),
    ("DataTransfer", _const({"vendorId": "emsp-bench", "messageId": "exercise"})),
    ("ChangeAvailability", _const({"connectorId": 0, "type": "Operative"})),
    ("TriggerMessage", _const({"requestedMessage": "StatusNotification"})),
    ("TriggerMessage", _const({"requestedMessage": "Heartbeat"})),
    (
        "SetChargingProfile",
        _const(
            {
                "connectorId": 0,
                "csChargingProfiles": {
                    "chargingProfileId": 9001,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": _SCHEDULE,
                },
            }
        ),
    ),
    ("GetCompositeSchedule", _const({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"})),
    ("RemoteStartTransaction", _const({"connectorId": 1, "idTag": EXERCISE_TOKEN[:20]})),
    ("TriggerMessage", _const({"requestedMessage": "MeterValues", "connectorId": 1})),
    ("RemoteStopTransaction", lambda ctx: {"transactionId": _transaction16(ctx)}),
    ("UnlockConnector", _const({"connectorId": 1})),
    ("ClearChargingProfile", _const({"id": 9001})),
    ("Reset", _const({"type": "Soft"})),
]

V201: list[Step] = [
    (
        "GetVariables",
        _const(
            {
                "getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                    {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}},
                ]
            }
        ),
    ),
    (
        "SetVariables",
        _const(
            {
                "setVariableData": [
                    {
                        "attributeValue": "60",
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                    }
                ]
            }
        ),
    ),
    ("GetBaseReport", _const({"requestId": 1, "reportBase": "ConfigurationInventory"})),
    (
        "GetReport",
        _const(
            {
                "requestId": 3,
                "componentVariable": [{"component": {"name": "OCPPCommCtrlr"}}],
            }
        ),
    ),
    ("ClearCache", _const({})),
    ("DataTransfer", _const({"vendorId": "emsp-bench", "messageId": "exercise"})),
    ("ChangeAvailability", _const({"operationalStatus": "Operative"})),
    ("TriggerMessage", _const({"requestedMessage": "Heartbeat"})),
    (
        "SetChargingProfile",
        _const(
            {
                "evseId": 0,
                "chargingProfile": {
                    "id": 9001,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": [{"id": 1, **_SCHEDULE}],
                },
            }
        ),
    ),
    (
        "GetChargingProfiles",
        _const({"requestId": 2, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}),
    ),
    ("GetCompositeSchedule", _const({"evseId": 1, "duration": 3600, "chargingRateUnit": "W"})),
    (
        "RequestStartTransaction",
        _const({"evseId": 1, "remoteStartId": 1, "idToken": {"idToken": EXERCISE_TOKEN, "type": "Central"}}),
    ),
    ("TriggerMessage", _const({"requestedMessage": "TransactionEvent", "evse": {"id": 1}})),
    ("RequestStopTransaction", lambda ctx: {"transactionId": ctx.transaction_id or "none"}),
    ("UnlockConnector", _const({"evseId": 1, "connectorId": 1})),
    ("ClearChargingProfile", _const({"chargingProfileId": 9001})),
    ("Reset", _const({"type": "OnIdle"})),
]

STEPS: dict[OcppVersion, list[Step]] = {"1.6": V16, "2.0.1": V201}
STARTS = frozenset({"RemoteStartTransaction", "RequestStartTransaction"})

"""What the mock CSMS answers to station messages it only takes note of, per version, as data.

Each is a schema-valid response; a message here is acknowledged, never refused with NotSupported.
Upkeep notifications (firmware, logs, reports) are handled in csms_upkeep, which also answers them.
DataTransfer answers UnknownVendorId (1.6 §5.6 / 2.0.1 P01: a vendor the CSMS has no extension for).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from simulators.ocppj import OcppVersion, Payload

_UNKNOWN_VENDOR: Payload = {"status": "UnknownVendorId"}

ACKS: Mapping[OcppVersion, Mapping[str, Payload]] = MappingProxyType(
    {
        "1.6": MappingProxyType(
            {
                "DataTransfer": _UNKNOWN_VENDOR,
                "SecurityEventNotification": {},
            }
        ),
        "2.0.1": MappingProxyType(
            {
                "DataTransfer": _UNKNOWN_VENDOR,
                "SecurityEventNotification": {},
                "NotifyEvent": {},
                "NotifyMonitoringReport": {},
                "NotifyCustomerInformation": {},
                "NotifyDisplayMessages": {},
                "NotifyChargingLimit": {},
                "ClearedChargingLimit": {},
                "ReportChargingProfiles": {},
                "ReservationStatusUpdate": {},
                "NotifyEVChargingNeeds": {"status": "Rejected"},  # no ISO 15118 scheduling here
                "NotifyEVChargingSchedule": {"status": "Accepted"},
                "Get15118EVCertificate": {"status": "Failed", "exiResponse": ""},
                "GetCertificateStatus": {"status": "Failed"},
            }
        ),
    }
)

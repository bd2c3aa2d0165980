"""OCPP 2.0.1 virtual station (v201_core.py) with its table of the CSMS's CALLs it answers.

One connector per EVSE: the bench's connector id is the EVSE id and connectorId is always 1.
Transactions use the default TxStartPoint/TxStopPoint (2.0.1 E01/E06: EVConnected + Authorized):
the transaction starts when the authorization arrives and ends when the cable is unplugged.
"""

from __future__ import annotations

from types import MappingProxyType

from simulators.station.v201_calls import HANDLERS
from simulators.station.v201_core import CHARGING_STATE, STATUS, Station201Core
from simulators.station.v201_upkeep import HANDLERS as UPKEEP

__all__ = ["CHARGING_STATE", "STATUS", "Station201"]


class Station201(Station201Core):
    handlers = MappingProxyType({**HANDLERS, **UPKEEP})

"""OCPP 2.0.1 device-model reports: the report entry of one variable (shared with GetBaseReport,
B07) and GetReport (B08, a custom report: chosen component/variables and component criteria).

The virtual station's components are all present, available and enabled, and none has a problem:
the criteria Active, Available and Enabled keep every variable, Problem none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj import Payload
from simulators.station.v201_core import Station201Core
from simulators.station.v201_variables import VARIABLES

_CRITERIA_KEEPING_ALL = frozenset({"Active", "Available", "Enabled"})


def report_entry(st: Station201Core, key: tuple[str, str, str | None], var: Any) -> Payload:
    """ReportDataType of one variable: its Actual value, mutability and characteristics."""
    component, name, instance = key
    variable: Payload = {"name": name, **({"instance": instance} if instance else {})}
    mutability = "ReadOnly" if var.put is None else "ReadWrite"
    return {
        "component": {"name": component},
        "variable": variable,
        "variableAttribute": [{"type": "Actual", "value": var.get(st), "mutability": mutability}],
        "variableCharacteristics": {"dataType": var.data_type, "supportsMonitoring": False},
    }


def _asked(key: tuple[str, str, str | None], wanted: list[Payload]) -> bool:
    """B08.FR.04/05: a component alone asks for all its variables; a variable without an instance
    for every instance of it."""
    component, name, instance = key
    for item in wanted:
        if item["component"]["name"] != component:
            continue
        variable = item.get("variable")
        if variable is None:
            return True
        if variable["name"] == name and variable.get("instance", instance) == instance:
            return True
    return False


def get_report(st: Station201Core, p: Payload, now: datetime) -> Payload:
    """B08: Accepted and a NotifyReport with the matching variables, or EmptyResultSet (nothing
    matched: no NotifyReport, B08.FR.15)."""
    criteria = set(p.get("componentCriteria", []))
    wanted = p.get("componentVariable")
    keys = [
        key
        for key in VARIABLES
        if (not criteria or criteria & _CRITERIA_KEEPING_ALL) and (wanted is None or _asked(key, wanted))
    ]
    if not keys:
        return {"status": "EmptyResultSet"}
    data = [report_entry(st, key, VARIABLES[key]) for key in keys]
    st.queue(
        "NotifyReport",
        {"requestId": p["requestId"], "generatedAt": format_utc(now), "seqNo": 0, "tbc": False,
         "reportData": data},
    )  # fmt: skip
    return {"status": "Accepted"}

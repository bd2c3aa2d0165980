"""A reservation held for a stranger (an `ocpp_call` ReserveNow from the timeline) turns away the
eMSP's drivers who plug in there: the station's own doing, graded `refused_at_station`, never the
eMSP's `wrongly_refused`; everyone else still charges and reconciles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timeline_helpers import variant

from bench.runner import run_scenario

HOLD_16 = {"connectorId": 1, "expiryDate": "2026-03-02T08:05:00Z", "idTag": "STRANGER1", "reservationId": 11}
HOLD_201 = {
    "id": 21, "expiryDateTime": "2026-03-02T08:05:00Z", "evseId": 1,
    "idToken": {"idToken": "STRANGER3", "type": "ISO14443"},
}  # fmt: skip


def test_a_stranger_s_reservation_is_the_station_s_refusal_not_the_emsp_s(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        stations = data["cpos"][0]["locations"][0]["stations"]
        stations[:] = [s for s in stations if s["id"] in ("CS-A-16-1", "CS-A-201-1")]  # two, both held
        data["demand"]["arrivals_per_hour"] = 30
        data["events"] = [
            {"type": "ocpp_call", "at": "2026-03-02T07:05:00Z", "stations": [station], "action": "ReserveNow",
             "payload": payload}
            for station, payload in (("CS-A-16-1", HOLD_16), ("CS-A-201-1", HOLD_201))
        ]  # fmt: skip
        data["expectations"] = []

    outcome = run_scenario(
        str(variant(tmp_path, "smoke", change)), seed=1, out=tmp_path / "run", report=False
    )
    counts = outcome.summary["reconciliation"]
    assert counts["refused_at_station"] > 0 and counts["wrongly_refused"] == 0
    assert counts["matched"] == outcome.summary["sessions"]["completed"] > 0
    rows = (tmp_path / "run" / "reconciliation.csv").read_text(encoding="utf-8").splitlines()
    turned_away = [r for r in rows if ",refused_at_station," in r]
    assert len(turned_away) == counts["refused_at_station"] and all("reserved" in r for r in turned_away)

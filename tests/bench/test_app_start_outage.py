"""An app start whose START_SESSION cannot reach the CPO (its link is down) is graded
refused_unreachable, as a card swipe in the same outage is: nobody refused the driver's token
(review9 M11: such visits were wrongly_refused, "an eMSP-issued token was refused", exit 1)."""

from __future__ import annotations

import csv
from pathlib import Path

from bench.overrides import parse_set
from bench.runner import run_scenario


def test_app_starts_lost_to_a_partner_outage_are_refused_unreachable(tmp_path: Path) -> None:
    outcome = run_scenario(
        "partner-outage", seed=101, out=tmp_path / "run", overrides=[parse_set("demand.app_start_share=0.6")],
        report=False, trace_mode="off",
    )  # fmt: skip
    rows = list(csv.DictReader((outcome.run_dir / "reconciliation.csv").open()))
    assert not [r for r in rows if r["class"] == "wrongly_refused"]
    lost = [r for r in rows if r["detail"].startswith("the app start did not reach the CPO")]
    assert lost and all(r["class"] == "refused_unreachable" for r in lost)
    assert all("07:50" <= r["plugged_at"][11:16] < "08:00" for r in lost)  # the outage's window
    assert all("FAILED: HTTP 503" in r["detail"] for r in lost)
    assert outcome.summary["commands"]["failed"] == len(lost)
    assert outcome.exit_code == 0, [e for e in outcome.summary["expectations"] if not e["passed"]]

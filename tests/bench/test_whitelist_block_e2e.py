"""A token the eMSP blocked while it could not reach a CPO (the block push refused by the outage)
that the CPO then allows from its whitelist copy: the CPO's risk under mod_tokens, graded
`whitelisted_after_block`, never the eMSP's `wrongly_authorized` (hostile review)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timeline_helpers import variant

from bench.runner import run_scenario


def test_a_block_the_cpo_never_got_is_not_the_emsp_s_wrong_authorization(tmp_path: Path) -> None:
    profile = tmp_path / "fallback.yaml"
    profile.write_text("name: fallback\nwhitelist_allowed: offline_fallback\n", encoding="utf-8")

    def change(data: dict[str, Any]) -> None:
        data["cpos"][1].update(ocpi_version="2.1.1", dialect=str(profile))
        data["events"].append({"type": "token_block", "driver": 5, "at": "2026-03-02T07:50:30Z"})
        data["expectations"] = [
            {
                "name": "nothing wrongly authorized",
                "metric": "reconciliation.wrongly_authorized",
                "op": "==",
                "value": 0,
            }
        ]

    outcome = run_scenario(
        str(variant(tmp_path, "partner-outage", change)), seed=1, out=tmp_path / "r", report=False
    )
    counts, auth = outcome.summary["reconciliation"], outcome.summary["authorizations"]
    assert counts["whitelisted_after_block"] == 1 and counts["wrongly_authorized"] == 0
    assert outcome.exit_code == 0
    # The CPO's whitelist allows are accepted authorizations, not refusals, and no eMSP latency.
    whitelisted = [
        a for a in outcome.world.cpos["cpo-b"].ocpi.truth.authorizations if a.result == "WHITELIST"
    ]
    assert whitelisted and auth["accepted"] + auth["rejected"] == sum(
        len(c.ocpi.truth.authorizations) for c in outcome.world.cpos.values()
    )
    assert auth["rejected"] == sum(
        1 for c in outcome.world.cpos.values() for a in c.ocpi.truth.authorizations
        if a.result not in ("ALLOWED", "WHITELIST")
    )  # fmt: skip

"""Which reconciliation classes are not mismatches: one definition for the report and the suite table.

A class is a mismatch when it is something the eMSP got wrong or someone must act on. Not mismatches:
billed as charged (`matched`), an unknown token refused (`refused`), an issued token the CPO had to turn
away because the authorization got no answer through an outage (`refused_unreachable`: what the outage
scenarios provoke; how fast the eMSP answers is graded by the latency figures), a driver the station
turned away or who left before the eMSP's yes (`refused_at_station`), a cloned token caught
(`fraud_caught`). Kept free of pandas: `emsp-bench suite` reads it without loading the report stack.
"""

from __future__ import annotations

MATCHED = "matched"
NOT_MISMATCHES = frozenset({MATCHED, "refused", "refused_unreachable", "refused_at_station", "fraud_caught"})


def is_mismatch(klass: object) -> bool:
    return klass not in NOT_MISMATCHES

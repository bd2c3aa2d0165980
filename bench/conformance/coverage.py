"""The coverage table, built from the code's registries: per OCPP message and direction, whether the
bench's virtual station and mock CSMS handle it, and which conformance cases exercise it."""

from __future__ import annotations

from bench.conformance.cases import CASES, DOWN, UP
from bench.serve_csms_exercise import STEPS
from simulators.cpo.csms import _HANDLERS as CSMS_HANDLERS
from simulators.cpo.csms_acks import ACKS
from simulators.ocppj.codec import OcppVersion
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

STATIONS: dict[OcppVersion, type[Station16] | type[Station201]] = {"1.6": Station16, "2.0.1": Station201}
# CSMS-initiated calls the mock CSMS makes by itself under a policy (serve csms config, scenario CPO).
POLICIES = {"SendLocalList": "sends (local_list policy, control API)"}


def csms_initiated(version: OcppVersion) -> frozenset[str]:
    """The CSMS-initiated actions of `version`: the virtual station answers every one the version
    defines (its handlers table; tests check it against the schemas), so that table is the registry."""
    return frozenset(STATIONS[version].handlers)


def coverage_rows() -> list[tuple[str, str, str, str, str, str]]:
    """(version, message, direction, virtual station, mock CSMS, conformance cases)."""
    rows = []
    for version in ("1.6", "2.0.1"):
        station = STATIONS[version]
        exercise = {action for action, _ in STEPS[version]}
        up = set(station.sends) | set(CSMS_HANDLERS[version]) | set(ACKS[version])
        down = set(csms_initiated(version)) | exercise
        covered: dict[tuple[str, str], list[str]] = {}
        for case in CASES:
            if case.version == version:
                for action, direction in case.messages:
                    covered.setdefault((action, direction), []).append(f"{case.id}")
        up |= {a for a, d in covered if d == UP}
        down |= {a for a, d in covered if d == DOWN}
        for direction, actions in ((UP, up), (DOWN, down)):
            for action in sorted(actions):
                if direction == UP:
                    st = "sends" if action in station.sends else "-"
                    if action in CSMS_HANDLERS[version]:
                        cs = "handles"
                    else:
                        cs = "acknowledges" if action in ACKS[version] else "-"
                else:
                    st = "answers" if action in station.handlers else "-"
                    cs = "sends (--exercise, control API)" if action in exercise else "control API"
                    cs = POLICIES.get(action, cs)
                cases = ", ".join(sorted(set(covered.get((action, direction), [])))) or "-"
                rows.append((version, action, direction, st, cs, cases))
    return rows


def coverage_markdown() -> str:
    header = ("OCPP", "message", "direction", "virtual station", "mock CSMS", "conformance cases")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in coverage_rows()]
    counts: dict[tuple[str, str], int] = {}
    for case in CASES:
        counts[(case.version, case.sut)] = counts.get((case.version, case.sut), 0) + 1
    lines.append("")
    lines.append(
        "Cases: " + ", ".join(f"OCPP {v} {sut} under test: {n}" for (v, sut), n in sorted(counts.items()))
    )
    return "\n".join(lines)

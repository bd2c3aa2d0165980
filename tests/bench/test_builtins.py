"""Every built-in scenario holds its expectations in `sim` on seeds 1-50 (issue 7, acceptance).

The full sweep is CPU heavy (quick built-ins a few CPU seconds per seed; peak-hour, >= 1,000
sessions on 210 stations, and cdr-storm, > 2,000 CDRs at once, more than a CPU minute each), so:

- the regular suite runs the quick built-ins on seeds 1-3 plus every seed that once failed
  (REGRESSIONS), and the big ones on seed 1 (marked slow); smoke runs on seeds 1-50 in
  tests/bench/test_run_trust.py;
- EMSP_BENCH_SWEEP=1 runs every built-in on seeds 1-50. Run it one built-in at a time with one
  worker, e.g. `EMSP_BENCH_SWEEP=1 pytest tests/bench/test_builtins.py -k peak`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from timeline_helpers import run_sim

SWEEP = os.environ.get("EMSP_BENCH_SWEEP") == "1"
QUICK = (
    "smoke",
    "mid-session-tariff",
    "offline-stations",
    "partner-latency",
    "partner-outage",
    "hub-roaming",
    "hub-outage",
    "fraud-burst",
    "billing-mix",
    "app-start",
)
BIG = ("peak-hour", "cdr-storm")
# Seeds on which a built-in once failed, kept in the regular suite: (name, seed).
REGRESSIONS: tuple[tuple[str, int], ...] = ()


def _cases(names: tuple[str, ...], regular: range) -> list[tuple[str, int]]:
    if SWEEP:
        return [(name, seed) for name in names for seed in range(1, 51)]
    cases = [(name, seed) for name in names if name != "smoke" for seed in regular]
    return cases + [c for c in REGRESSIONS if c[0] in names and c not in cases]


def _check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, seed: int) -> None:
    outcome = run_sim(monkeypatch, name, seed, tmp_path)
    failed = [
        f"{r.name}: {r.metric} {r.op} {r.expected}, got {r.actual}"
        for r in outcome.expectations
        if not r.passed
    ]
    assert outcome.exit_code == 0 and not failed, f"{name} seed {seed}: {failed}"


@pytest.mark.parametrize(("name", "seed"), _cases(QUICK, range(1, 4)))
def test_builtin_holds_in_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, seed: int) -> None:
    _check(monkeypatch, tmp_path, name, seed)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "seed"), _cases(BIG, range(1, 2)))
def test_big_builtin_holds_in_sim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, seed: int
) -> None:
    _check(monkeypatch, tmp_path, name, seed)


# Built-ins whose CPOs speak other OCPI versions than 2.2.1: they hold once the eMSP offers those
# versions (issue 8, the eMSP's adapters); until then they are skipped, naming the missing version.
VERSIONED = {"smoke-2.1.1": {"2.1.1"}, "smoke-2.3.0": {"2.3.0"}, "mixed-versions": {"2.1.1", "2.3.0"}}


def _emsp_versions() -> set[str]:
    """The versions the eMSP offers on its versions endpoint, asked as a partner would."""
    import base64
    from datetime import UTC, datetime

    from emsp.core import EmspCore, EmspSettings
    from emsp.wire import HttpRequest, loads

    emsp = EmspCore(EmspSettings(base_url="http://emsp.local/ocpi"))
    emsp.register_partner("probe", "probe-token-a", parties=[("DE", "PRB", "CPO")])
    auth = "Token " + base64.b64encode(b"probe-token-a").decode()
    request = HttpRequest("GET", "http://emsp.local/ocpi/versions", {"Authorization": auth})
    response = emsp.handle(request, datetime(2026, 3, 2, tzinfo=UTC))
    body = loads(getattr(response, "body", None) or "{}")
    return {str(v.get("version")) for v in body.get("data") or [] if isinstance(v, dict)}


@pytest.mark.parametrize(
    ("name", "seed"),
    [(name, seed) for name in VERSIONED for seed in (range(1, 51) if SWEEP else range(1, 4))],
)
def test_versioned_builtin_holds_in_sim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, seed: int
) -> None:
    missing = VERSIONED[name] - _emsp_versions()
    if missing:
        pytest.skip(f"the eMSP does not offer OCPI {', '.join(sorted(missing))} yet")
    _check(monkeypatch, tmp_path, name, seed)

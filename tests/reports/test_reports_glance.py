"""report.html at a glance: what was simulated, mismatches first in plain words, flags, partner panels;
one file that opens with no sibling (every image a data URI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reports_testdata import RunFactory, make_summary

from reports import write_report
from reports.simulated import PLAIN_REASONS, log_events, reason

SCENARIO = {
    "name": "smoke",
    "description": "two CPOs",
    "tags": ["quick"],
    "seed": 7,
    "start": "2024-06-01T08:00:00Z",
    "duration_minutes": 60,
    "settle_minutes": 30,
    "cpos": [
        {
            "id": "CPO-A", "country_code": "DE", "party_id": "CPA", "ocpi_version": "2.2.1",
            "connection": "bilateral", "dialect": "end-of-day-batch", "tariffs": {"STD": "t.json"},
            "ocpp_link": {"latency_ms": 30.0, "jitter_ms": 10.0},
            "ocpi_link": {"latency_ms": 80.0, "jitter_ms": 20.0, "loss": 0.1},
            "locations": [{"id": "L1", "stations": [{"id": "ST-1", "ocpp": "1.6"}, {"id": "ST-2", "ocpp": "2.0.1",  # noqa: E501
                                                                               "current": "DC"}]}],
        },
    ],
    "demand": {"drivers": 4, "unknown_tokens": 1, "arrivals_per_hour": 12.0},
    "events": [
        {"type": "link", "cpo": "CPO-A", "link": "ocpi", "from": "2024-06-01T08:20:00Z",
         "until": "2024-06-01T08:40:00Z", "latency_ms": 2000.0},
        {"type": "token_block", "at": "2024-06-01T08:30:00Z", "driver": 1},
    ],
}  # fmt: skip

LOG = [
    {"event": "handshake_started", "level": "info", "partner": "CPO-A"},
    {"event": "handshake_finished", "level": "info", "partner": "CPO-A", "status_code": 1000, "reason": "Success"},  # noqa: E501
    {"event": "handshake_failed", "level": "info", "partner": "CPO-B", "status_code": 3001, "reason": "unreachable"},  # noqa: E501
    {"at": "2024-06-01T08:05:00Z", "event": "ocpi_request", "level": "info", "partner": "CPO-A"},
    {"at": "2024-06-01T08:06:00Z", "event": "stale_update", "level": "warning", "partner": "CPO-A",
     "module": "locations", "object_id": "L1"},
]  # fmt: skip


@pytest.fixture
def full_run(make_run: RunFactory) -> Path:
    summary = make_summary(
        partners={
            "CPO-A": {
                "sessions": {"started": 3, "completed": 3},
                "reconciliation": {"matched": 2},
                "findings": 1,
            },
            "CPO-B": {"sessions": {"started": 1, "completed": 0}, "reconciliation": {"missing_cdr": 1}},
        }
    )
    run_dir = make_run(summary=summary)
    (run_dir / "scenario.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    (run_dir / "log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in LOG), encoding="utf-8")
    return run_dir


def _sections(page: str) -> list[str]:
    return re.findall(r"<h2>([^<(]+)", page)


def test_the_page_reads_top_down_and_opens_alone(full_run: Path) -> None:
    page = write_report(full_run).read_text(encoding="utf-8")
    order = [s.strip() for s in _sections(page)]
    assert order[:6] == [
        "What was simulated",
        "Mismatched sessions",
        "Handshakes, findings and warnings",
        "Per partner",
        "Quirks observed per partner",
        "Expectations",
    ]
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 6 and all(src.startswith("data:image/png;base64,") for src in sources)
    assert "href=" not in page and "<script" not in page


def test_what_was_simulated_names_partners_links_and_the_timeline(full_run: Path) -> None:
    page = write_report(full_run).read_text(encoding="utf-8")
    assert "<td>end-of-day-batch</td>" in page and "<td>2.2.1</td>" in page
    assert "<td>80.0 ms ± 20.0, loss 0.1</td>" in page
    assert "<td>2 (1× OCPP 1.6, 1× OCPP 2.0.1)</td>" in page and "<td>1 AC, 1 DC</td>" in page
    assert "Timeline (2 events)" in page
    assert "<td>2024-06-01T08:20:00Z – 08:40</td>" in page and "latency_ms 2000.0" in page


def test_mismatches_come_first_with_the_reason_in_plain_words(full_run: Path) -> None:
    page = write_report(full_run).read_text(encoding="utf-8")
    mismatched = page[page.index("<h2>Mismatched sessions") : page.index("<h2>Handshakes")]
    assert "<th>reason</th><th>session_key</th>" in mismatched
    assert "the CDR&#x27;s energy differs from what the station delivered (cdr 0.5 kWh short)" in mismatched
    assert "the eMSP never received a CDR for this charge: nothing was billed" in mismatched


def test_failed_handshakes_findings_and_troubled_partners_are_flagged(full_run: Path) -> None:
    page = write_report(full_run).read_text(encoding="utf-8")
    assert '<p class="flag">1 credentials handshake(s) FAILED</p>' in page
    assert "CPO-A: 1 finding(s)" in page
    panels = re.findall(
        r'<div class="panel( flagged)?"><h3>([^<]+)</h3>.*?<p class="(?:flag|ok)">([^<]+)', page
    )
    assert panels == [
        (" flagged", "CPO-A", "attention: 1 findings"),
        (" flagged", "CPO-B", "attention: 1 missing_cdr, handshake failed"),
    ]


def test_log_events_keep_handshake_outcomes_and_warnings_only(full_run: Path) -> None:
    events = log_events(full_run)
    assert events["event"].tolist() == ["handshake_finished", "handshake_failed", "stale_update"]
    assert log_events(full_run / "nowhere").empty


@pytest.mark.parametrize(("klass", "detail"), [(k, "") for k in PLAIN_REASONS] + [("new_class", "x")])
def test_every_class_has_plain_words(klass: str, detail: str) -> None:
    text = reason(klass, detail)
    assert text and "_" not in text.split(" (")[0]


@pytest.mark.parametrize("klass", ["credit_without_rebill", "rebill_without_credit"])
def test_a_correction_gone_wrong_is_said_in_plain_words(klass: str) -> None:
    # A refused credit CDR (no credit_reference_id) leaves its session rebill_without_credit: the
    # report says what that means, then the reconciliation's detail of why.
    assert klass in PLAIN_REASONS
    assert reason(klass, "why").startswith("the CPO ") and reason(klass, "why").endswith(" (why)")

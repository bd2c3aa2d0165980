"""The report of a run whose stations played against an external CSMS (summary `mode: external_csms`).

Only what the wire showed: the CSMS's answers per action, the calls it made, the stations it let in.
No eMSP took part, so there is no reconciliation, no CDR and no invoice to show.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.htmlparts import e as _e
from reports.htmlparts import table as _table

_REFUSED_OK = {"Accepted", "answered", "Pending", "unanswered"}


def render_external(summary: dict[str, Any], page: str, css: str) -> str:
    if summary.get("mode") == "external_emsp":
        return _render_emsp(summary, page, css)
    ext = summary["external_csms"]
    title = f"emsp-bench report: {summary.get('scenario')} (seed {summary.get('seed')}, live, external CSMS)"
    rows = [
        (action, outcome, count)
        for action, counts in ext["by_action"].items()
        for outcome, count in counts.items()
        if count
    ]
    answers = pd.DataFrame(rows, columns=["action (station → CSMS)", "CSMS answered", "count"])
    asked = pd.DataFrame(
        [(a, o, n) for a, counts in ext["csms_calls"].items() for o, n in counts.items()],
        columns=["action (CSMS → station)", "station answered", "count"],
    )
    stations = pd.DataFrame(
        [(sid, s["url"], s["connections"], s["refusals"], s["failures"], s["last_error"])
         for sid, s in ext["by_station"].items()],
        columns=["station", "url", "connections", "refused handshakes", "failures", "last error"],
    )  # fmt: skip
    totals = pd.DataFrame(
        [(k, ext[k]) for k in ("calls", "accepted", "refused", "pending", "callerrors", "unanswered")]
        + [(f"stations {k}", v) for k, v in ext["stations"].items()]
        + [("sessions started", summary["sessions"]["started"]),
           ("sessions completed", summary["sessions"]["completed"])],
        columns=["figure", "value"],
    )  # fmt: skip
    exp, banner = _verdict(summary)
    body = [
        f"<h1>{_e(title)}</h1>",
        banner,
        "<p class=note>The stations ran against an external CSMS: only what it answered on the wire "
        "is graded; no eMSP took part (no reconciliation, CDRs or invoices).</p>",
        _section("What the CSMS answered", _table(answers, row_bad=lambda r: r.iloc[1] not in _REFUSED_OK)),
        _section("Totals", _table(totals)),
        _section("What the CSMS asked of the stations", _table(asked)),
        _section("Stations at the CSMS's door", _table(stations, row_bad=lambda r: r["connections"] == 0)),
        _section("Expectations", _table(exp) if not exp.empty else "<p class=note>None.</p>"),
    ]
    return page.format(title=_e(title), css=css, body="\n".join(body))


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_e(title)}</h2>\n{content}\n</section>"


def _verdict(summary: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    exp = pd.DataFrame(summary.get("expectations") or [])
    failed = int((~exp["passed"]).sum()) if not exp.empty else 0
    banner = (
        '<div class="banner none">NO EXPECTATIONS</div>'
        if exp.empty
        else f'<div class="banner {"fail" if failed else "pass"}">'
        f"{'FAIL' if failed else 'PASS'}: {len(exp) - failed} of {len(exp)} expectations held</div>"
    )
    return exp, banner


def _flat(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [row for k, v in data.items() for row in _flat(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), data)]


def _render_emsp(summary: dict[str, Any], page: str, css: str) -> str:
    title = f"emsp-bench report: {summary.get('scenario')} (seed {summary.get('seed')}, live, external eMSP)"
    exp, banner = _verdict(summary)
    ext = summary["external_emsp"]
    body = [
        f"<h1>{_e(title)}</h1>",
        banner,
        "<p class=note>The mock CPOs ran against an external eMSP: graded on what they observed "
        "(registration, authorizations answered, sessions and CDRs acknowledged); the eMSP's own "
        "records are not visible.</p>",
        _section("Reconciliation (stations' truth vs what the eMSP acknowledged)",
                 _table(pd.DataFrame(_flat(ext["reconciliation"]), columns=["class", "count"]))),
        _section("What the CPOs observed", _table(pd.DataFrame(
            _flat({k: v for k, v in ext.items() if k != "reconciliation"}), columns=["figure", "value"]))),
        _section("Stations", _table(pd.DataFrame(
            _flat({k: summary[k] for k in ("sessions", "authorizations", "energy_kwh", "messages")}),
            columns=["figure", "value"]))),
        _section("Expectations", _table(exp) if not exp.empty else "<p class=note>None.</p>"),
    ]  # fmt: skip
    return page.format(title=_e(title), css=css, body="\n".join(body))

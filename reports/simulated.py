"""What was simulated, read from a run directory: the scenario as run (scenario.json), its partners,
links and timeline, the handshakes and warnings in log.jsonl, and mismatches in plain words."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from reports.plots import BIN, _date_axis, _figure, _naive_utc, _save, _save_no_data

# What each reconciliation class means, for a reader who does not know the class names.
PLAIN_REASONS: dict[str, str] = {
    "matched": "billed exactly as charged",
    "refused": "an unknown token was rightly refused",
    "wrongly_refused": "the eMSP refused a token it had issued: the driver could not charge",
    "refused_unreachable": (
        "the eMSP and the CPO could not reach each other (an authorization or an app start): "
        "the driver of an issued token was turned away"
    ),
    "refused_at_station": (
        "the station turned the driver away itself (out of service, or reserved),"
        " or the driver left before the eMSP's answer arrived"
    ),
    "wrongly_authorized": "the eMSP let a token it never issued charge",
    "whitelisted_after_block": "the CPO let a token the eMSP had blocked charge from its whitelist copy",
    "open_session": "the session never ended at the eMSP",
    "missing_cdr": "the eMSP never received a CDR for this charge: nothing was billed",
    "duplicate_cdr": "the eMSP stored the same charge twice: billed twice",
    "credit_without_rebill": "the CPO credited the CDR and sent no replacement: the charge is unbilled",
    "rebill_without_credit": (
        "the CPO sent a corrected CDR but the eMSP holds no credit of the first: the first stays billed"
    ),
    "orphan_cdr": "the eMSP holds a CDR for a charge that never happened",
    "energy_mismatch": "the CDR's energy differs from what the station delivered",
    "missing_invoice": "a CDR arrived but no invoice line was written: not billed",
    "price_mismatch": "the invoiced price differs from the tariff in effect",
    "quote_exceeded": "the bill is above the price quoted to the driver before charging",
}
LOG_EVENTS = ("handshake_finished", "handshake_failed")
_LOG_LEVELS = ("warning", "error", "critical")


def reason(klass: str, detail: str = "") -> str:
    text = PLAIN_REASONS.get(klass, klass.replace("_", " "))
    return f"{text} ({detail})" if detail else text


def _link(link: Mapping[str, Any] | None) -> str:
    if not isinstance(link, Mapping):
        return ""
    text = f"{link.get('latency_ms', '?')} ms ± {link.get('jitter_ms', 0)}"
    extras = [f"{k} {link[k]}" for k in ("loss", "duplicate", "reorder") if link.get(k)]
    return ", ".join([text, *extras])


def settings(scenario: Mapping[str, Any]) -> pd.DataFrame:
    demand = scenario.get("demand") or {}
    rate = demand.get("arrivals_per_hour")
    profile = demand.get("arrival_profile") or []
    if profile:
        rate = (
            ", ".join(f"{s.get('from')}: {s.get('per_hour')}/h" for s in profile)
            + f" ({demand.get('time_zone')})"
        )
    rows = [
        ("scenario", scenario.get("name", "")),
        ("description", scenario.get("description", "")),
        ("seed", scenario.get("seed", "")),
        ("start (UTC)", scenario.get("start", "")),
        (
            "duration",
            f"{scenario.get('duration_minutes', '?')} min (+ {scenario.get('settle_minutes', '?')} settling)",
        ),
        ("drivers / unknown tokens", f"{demand.get('drivers', '?')} / {demand.get('unknown_tokens', '?')}"),
        ("arrivals", f"{rate}/h" if rate and not profile else rate or ""),
        ("EV models", ", ".join(str(m.get("name")) for m in demand.get("ev_models") or []) or "-"),
        ("timeline events", len(scenario.get("events") or [])),
        ("tags", ", ".join(scenario.get("tags") or []) or "-"),
    ]
    return pd.DataFrame([(k, str(v)) for k, v in rows], columns=["setting", "value"])


def partners(scenario: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for cpo in scenario.get("cpos") or []:
        stations = [s for loc in cpo.get("locations") or [] for s in loc.get("stations") or []]
        ocpp = pd.Series([str(s.get("ocpp")) for s in stations]).value_counts().sort_index()
        current = pd.Series([str(s.get("current", "AC")) for s in stations]).value_counts().sort_index()
        rows.append(
            {
                "partner": cpo.get("id"),
                "party": f"{cpo.get('country_code')}*{cpo.get('party_id')}",
                "OCPI": cpo.get("ocpi_version"),
                "dialect": cpo.get("dialect"),
                "connection": cpo.get("connection"),
                "stations": f"{len(stations)} (" + ", ".join(f"{n}× OCPP {v}" for v, n in ocpp.items()) + ")",
                "AC/DC": ", ".join(f"{n} {c}" for c, n in current.items()),
                "OCPP link (one way)": _link(cpo.get("ocpp_link")),
                "OCPI link (one way)": _link(cpo.get("ocpi_link")),
                "tariffs": ", ".join(cpo.get("tariffs") or {}),
            }
        )
    return pd.DataFrame(rows)


def _when(event: Mapping[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    if "at" in event:
        return pd.Timestamp(event["at"]), None
    return pd.Timestamp(event["from"]), pd.Timestamp(event["until"])


def _what(event: Mapping[str, Any]) -> str:
    skip = {"type", "at", "from", "until"}
    return ", ".join(f"{k} {v}" for k, v in event.items() if k not in skip and v not in (None, [], ""))


def events(scenario: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for event in scenario.get("events") or []:
        start, end = _when(event)
        when = start.isoformat().replace("+00:00", "Z") + (
            f" – {end.strftime('%H:%M')}" if end is not None else ""
        )
        rows.append({"type": event.get("type"), "when (UTC)": when, "what": _what(event)})
    return pd.DataFrame(rows, columns=["type", "when (UTC)", "what"])


def _lane(event: Mapping[str, Any]) -> str:
    who = event.get("cpo") or event.get("party") or ""
    if event.get("type") == "station_offline":
        who = f"{len(event.get('stations') or [])} stations"
    link = f" {event['link']}" if event.get("type") == "link" else ""
    return f"{event.get('type')}{link} {who}".strip()


def plot_timeline(scenario: Mapping[str, Any], path: Path) -> Path:
    """The scenario's events on its time axis: a bar per window, a diamond per instant, a lane each."""
    items = list(scenario.get("events") or [])
    if not items or "start" not in scenario:
        return _save_no_data(path, "Timeline: no events")
    start = pd.Timestamp(scenario["start"]).tz_convert(None)
    end = start + pd.Timedelta(minutes=int(scenario.get("duration_minutes", 0)))
    lanes = list(dict.fromkeys(_lane(e) for e in items))
    with _figure() as fig:
        fig.set_size_inches(8.0, 1.2 + 0.45 * len(lanes))
        ax = fig.subplots()
        for event in items:
            y = lanes.index(_lane(event))
            first, last = _when(event)
            colour = f"C{list(dict.fromkeys(e.get('type') for e in items)).index(event.get('type')) % 10}"
            if last is None:
                ax.plot([first.tz_convert(None)], [y], marker="D", color=colour, markersize=8)
            else:
                ax.barh(y, last - first, left=first.tz_convert(None), height=0.5, color=colour, alpha=0.8)
        ax.set_yticks(range(len(lanes)), lanes)
        ax.invert_yaxis()
        ax.set_xlim(start, end)
        ax.set_title("Timeline (scenario time, UTC)")
        _date_axis(ax)
        return _save(fig, path)


def _windows(scenario: Mapping[str, Any]) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    out = []
    for event in scenario.get("events") or []:
        first, last = _when(event)
        if last is not None:
            out.append((first.tz_convert(None), last.tz_convert(None), _lane(event)))
    return out


def plot_latency_percentiles(authorizations: pd.DataFrame, scenario: Mapping[str, Any], path: Path) -> Path:
    """p50, p95 and p99 of authorization latency per 15-minute bin, with the timeline's windows shaded."""
    if not len(authorizations):
        return _save_no_data(path, "Authorization latency percentiles over time")
    data = pd.DataFrame(
        {
            "at": _naive_utc(authorizations["at"]),
            "latency": pd.to_numeric(authorizations["latency_ms"], errors="coerce"),
        }
    ).dropna()
    if data.empty:
        return _save_no_data(path, "Authorization latency percentiles over time")
    bins = data.groupby(data["at"].dt.floor(BIN))["latency"]
    middle = None
    with _figure() as fig:
        ax = fig.subplots()
        for pct, style in ((50, "-"), (95, "--"), (99, ":")):
            figures = bins.quantile(pct / 100, interpolation="higher")
            middle = figures.index + pd.Timedelta(BIN) / 2
            ax.plot(middle.to_numpy(), figures.to_numpy(), style, marker="o", markersize=3, label=f"p{pct}")
        handles = []
        for index, (first, last, lane) in enumerate(_windows(scenario)):
            colour = f"C{(index + 3) % 10}"
            ax.axvspan(first, last, color=colour, alpha=0.12)
            handles.append(Patch(color=colour, alpha=0.3, label=lane))
        counts = bins.size()
        ax.set_title(f"Authorization latency per {BIN} (n = {int(np.sum(counts))}), all partners")
        ax.set_xlabel("time (UTC)")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(handles=[*ax.get_legend_handles_labels()[0], *handles], loc="lower left", fontsize="small")
        _date_axis(ax)
        return _save(fig, path)


def log_events(run_dir: Path) -> pd.DataFrame:
    """Handshake outcomes and warnings from log.jsonl (absent: empty), in log order."""
    path = Path(run_dir) / "log.jsonl"
    columns = ["at", "partner", "event", "level", "detail"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            # Cheap filter first: a big run logs a line per OCPI request.
            if '"handshake_' not in line and not any(f'"level": "{lv}"' in line for lv in _LOG_LEVELS):
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            event = str(entry.get("event", ""))
            if event.startswith("handshake_") and event not in LOG_EVENTS:
                continue
            skip = {"at", "partner", "event", "level", "emsp", "run", "correlation_id", "request_id"}
            detail = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in skip)
            rows.append(
                [entry.get("at", ""), entry.get("partner", ""), event, entry.get("level", ""), detail]
            )
    found = pd.DataFrame(rows, columns=columns)
    # Handshake lines carry no scenario time: no empty column when no line has one.
    return found.drop(columns=["at"]) if rows and not found["at"].astype(bool).any() else found

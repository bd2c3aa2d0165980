"""Pure functions from run records to DataFrames (no I/O, no formatting).

Money and energy cells are `Decimal` (or None when unknown) so that every total is exact; callers
format them for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from reports.outcomes import MATCHED, NOT_MISMATCHES

# Outcomes nobody has to act on (reports/outcomes.py): the suite table counts the others as mismatched.
GOOD_CLASSES = NOT_MISMATCHES


def is_good(klass: object) -> bool:
    return klass in GOOD_CLASSES


TOTAL_LABEL = "(all)"
# Summary sections shown in their own tables rather than flattened into the KPI table.
_OWN_TABLE_SECTIONS = frozenset({"reconciliation", "expectations"})
# Summary sections whose string leaves are decimal amounts (contract: money/energy as strings).
_DECIMAL_SECTIONS = frozenset({"energy_kwh", "revenue"})
EXPECTATION_COLUMNS = ("name", "metric", "op", "expected", "actual", "passed")


def kpi_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Summary flattened to (kpi, value) rows in summary order; energy and revenue as Decimal."""
    rows: list[tuple[str, Any]] = []
    for key, value in summary.items():
        if key in _OWN_TABLE_SECTIONS:
            continue
        rows.extend(_flatten(key, value, decimal=key in _DECIMAL_SECTIONS))
    energy = summary.get("energy_kwh")
    if isinstance(energy, Mapping):
        # Derived deltas: the first thing a reader wants to know is how far billing is from truth.
        truth = to_decimal(energy.get("truth"))
        for other in ("cdr", "invoiced"):
            amount = to_decimal(energy.get(other))
            if truth is not None and amount is not None:
                rows.append((f"energy_kwh.{other}_minus_truth", amount - truth))
    return pd.DataFrame({"kpi": [r[0] for r in rows], "value": pd.Series([r[1] for r in rows], dtype=object)})


def reconciliation_counts(summary: Mapping[str, Any], sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per reconciliation class: `count` from the summary, `share` of all classes in percent,
    `rows` in reconciliation.csv (a cross-check: the two should agree)."""
    raw = summary.get("reconciliation")
    summary_counts: dict[str, int] = {}
    if isinstance(raw, Mapping):
        summary_counts = {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float)}
    csv_counts: dict[str, int] = {}
    if sessions is not None and "class" in sessions.columns:
        csv_counts = {str(k): int(v) for k, v in sessions["class"].value_counts(sort=False).items()}
    # matched first, then the summary's own order, then classes only seen in the CSV.
    classes = [MATCHED] if MATCHED in summary_counts or MATCHED in csv_counts else []
    classes += [c for c in summary_counts if c != MATCHED]
    classes += sorted(c for c in csv_counts if c not in summary_counts and c != MATCHED)
    total = sum(summary_counts.values())
    shares = [
        (Decimal(100 * summary_counts[c]) / Decimal(total)).quantize(Decimal("0.1"))
        if total and c in summary_counts
        else None
        for c in classes
    ]
    return pd.DataFrame(
        {
            "class": pd.Series(classes, dtype=object),
            "count": pd.Series([summary_counts.get(c) for c in classes], dtype=object),
            "share_pct": pd.Series(shares, dtype=object),
            "rows": pd.Series([csv_counts.get(c, 0) for c in classes], dtype=object),
        }
    )


def mismatches(sessions: pd.DataFrame) -> pd.DataFrame:
    """Rows whose class is not a good outcome (see GOOD_CLASSES), in file order."""
    return sessions.loc[~sessions["class"].map(is_good).astype(bool)].reset_index(drop=True)


def sessions_mismatches_first(sessions: pd.DataFrame) -> pd.DataFrame:
    """All rows, mismatches first; a stable sort keeps the runner's order within each group."""
    order = sessions["class"].map(is_good).astype(bool).to_numpy().argsort(kind="stable")
    return sessions.iloc[order].reset_index(drop=True)


def per_cpo(sessions: pd.DataFrame, *, total: bool = True) -> pd.DataFrame:
    """Per CPO: rows, sessions that started, mismatches, energy (truth/CDR/invoiced) and revenue per
    currency (sum of invoiced_cost). Exact Decimal sums; a final `(all)` row when `total`."""
    currencies = sorted({c for c in sessions["currency"].tolist() if c}) if len(sessions) else []
    groups: dict[str, dict[str, Any]] = {}
    for rec in sessions.to_dict("records"):
        cpo = str(rec["cpo"])
        for key in (cpo, TOTAL_LABEL) if total else (cpo,):
            acc = groups.setdefault(key, _empty_cpo_row(key, currencies))
            acc["rows"] += 1
            acc["sessions"] += 0 if pd.isna(rec["started_at"]) else 1
            acc["mismatched"] += 0 if is_good(rec["class"]) else 1
            for src, dst in (
                ("truth_energy_kwh", "truth_kwh"),
                ("cdr_energy_kwh", "cdr_kwh"),
                ("invoiced_energy_kwh", "invoiced_kwh"),
            ):
                if rec[src] is not None:
                    acc[dst] += rec[src]
            if rec["invoiced_cost"] is not None and rec["currency"]:
                acc[f"revenue_{rec['currency']}"] += rec["invoiced_cost"]
    keys = sorted(k for k in groups if k != TOTAL_LABEL) + ([TOTAL_LABEL] if TOTAL_LABEL in groups else [])
    columns = ["cpo", "rows", "sessions", "mismatched", "truth_kwh", "cdr_kwh", "invoiced_kwh"]
    columns += [f"revenue_{c}" for c in currencies]
    return pd.DataFrame(
        {col: pd.Series([groups[k][col] for k in keys], dtype=object) for col in columns}, columns=columns
    )


def authorization_results(authorizations: pd.DataFrame) -> pd.DataFrame:
    """Authorizations per partner and result (columns sorted; a `total` column per partner)."""
    if authorizations.empty:
        return pd.DataFrame({"partner": pd.Series([], dtype=object), "total": pd.Series([], dtype=object)})
    table = pd.crosstab(authorizations["partner"], authorizations["result"])
    table = table.reindex(sorted(table.columns), axis=1).sort_index()
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table.reset_index().rename(columns={"index": "partner"})


def expectations_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    raw = summary.get("expectations") or []
    rows = [{col: exp.get(col, "") for col in EXPECTATION_COLUMNS} for exp in raw if isinstance(exp, Mapping)]
    for row in rows:
        row["passed"] = row["passed"] is True
    return pd.DataFrame(rows, columns=list(EXPECTATION_COLUMNS))


def partners_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per partner from summary.json `partners`: sessions, authorizations and their latency,
    CDRs, energy, revenue, reconciliation classes that occurred, findings."""
    partners = summary.get("partners")
    if not isinstance(partners, Mapping) or not partners:
        return pd.DataFrame({"partner": pd.Series([], dtype=object)})
    rows = []
    for partner, figures in partners.items():
        if not isinstance(figures, Mapping):
            continue
        row: dict[str, Any] = {"partner": str(partner)}
        for key, value in _flatten("", figures, decimal=True):
            row[key.lstrip(".").replace("authorizations.latency_ms.", "latency_ms ")] = value
        rows.append(row)
    columns = [
        col
        for col in dict.fromkeys(col for row in rows for col in row)
        # a class or finding kind no partner had would only widen the table
        if not col.startswith(("reconciliation.", "findings."))
        or col == "findings.total"
        or any(row.get(col) for row in rows)
    ]
    return pd.DataFrame(
        {col: pd.Series([row.get(col) for row in rows], dtype=object) for col in columns}, columns=columns
    )


def channels_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per channel (bilateral, each hub) from summary.json `channels` (hub scenarios):
    sessions, CDRs, matched, revenue, the hub's fees and the CPO revenue after them (and, in a billing
    run, the billed retail, wholesale, fees and margin)."""
    channels = summary.get("channels")
    rows = []
    for channel, figures in channels.items() if isinstance(channels, Mapping) else []:
        if isinstance(figures, Mapping):
            row: dict[str, Any] = {"channel": str(channel)}
            for key, value in _flatten("", figures, decimal=True):
                row[key.lstrip(".")] = value
            rows.append(row)
    if not rows:
        return pd.DataFrame({"channel": pd.Series([], dtype=object)})
    columns = list(dict.fromkeys(col for row in rows for col in row))
    return pd.DataFrame(
        {col: pd.Series([row.get(col) for row in rows], dtype=object) for col in columns}, columns=columns
    )


def expectations_verdict(summary: Mapping[str, Any]) -> bool | None:
    """True if all expectations held, False if any failed, None when the scenario has none."""
    table = expectations_table(summary)
    if table.empty:
        return None
    return bool(table["passed"].all())


def to_decimal(value: Any) -> Decimal | None:
    """Decimal from a contract value (decimal string or int); None when absent or not a number."""
    if value is None or isinstance(value, bool | float):
        # Floats are refused on purpose: the contract writes money/energy as strings.
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _flatten(prefix: str, value: Any, *, decimal: bool) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from _flatten(f"{prefix}.{key}", sub, decimal=decimal)
    elif decimal and isinstance(value, str) and to_decimal(value) is not None:
        yield prefix, to_decimal(value)
    else:
        yield prefix, value


def _empty_cpo_row(cpo: str, currencies: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"cpo": cpo, "rows": 0, "sessions": 0, "mismatched": 0}
    row.update({"truth_kwh": Decimal(0), "cdr_kwh": Decimal(0), "invoiced_kwh": Decimal(0)})
    row.update({f"revenue_{c}": Decimal(0) for c in currencies})
    return row

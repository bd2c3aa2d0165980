"""Writes the records of a run directory (design: Contracts) other than the trace and the report."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import simplejson

from emsp.findings import describe
from emsp.model import FindingRecord, PartyRef
from emsp.reconciliation import Reconciliation
from emsp.timeutil import format_utc
from reports.load import SESSION_COLUMNS
from simulators.cpo.truth import AuthorizationRecord

# The column contract is owned by its reader (reports), so writer and reader cannot drift apart.
RECONCILIATION_COLUMNS = SESSION_COLUMNS


def write_json(path: Path, data: Any) -> None:
    path.write_text(simplejson.dumps(data, use_decimal=True, indent=2) + "\n", encoding="utf-8")


def _s(value: object) -> str:
    return "" if value is None else str(value)


def write_reconciliation(path: Path, reconciliation: Reconciliation) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RECONCILIATION_COLUMNS)
        for row in reconciliation.rows:
            truth, cdr, invoice = row.truth, (row.cdrs[0] if row.cdrs else None), row.invoice
            truth_cost = None
            if truth is not None:
                truth_cost = truth.cost_incl_vat if truth.cost_incl_vat is not None else truth.cost_excl_vat
            cdr_cost = None
            if cdr is not None:
                cost = cdr.total_cost
                cdr_cost = cost.incl_vat if cost.incl_vat is not None else cost.excl_vat
            invoiced_cost = None
            if invoice is not None:
                invoiced_cost = (
                    invoice.amount_incl_vat
                    if invoice.amount_incl_vat is not None
                    else invoice.amount_excl_vat
                )
            writer.writerow(
                [
                    truth.key if truth else f"orphan/{cdr.party.key() + '/' + cdr.cdr_id if cdr else ''}",
                    truth.cpo if truth else (cdr.partner if cdr else ""),
                    _s(truth.station_id if truth else None),
                    _s(truth.connector_id if truth else None),
                    truth.token_uid if truth else (cdr.token_uid if cdr else ""),
                    _s(truth.transaction_id if truth else None),
                    _s(truth.session_id if truth else (cdr.session_id if cdr else None)),
                    ";".join(c.cdr_id for c in row.cdrs),
                    format_utc(truth.plugged_at) if truth else "",
                    format_utc(truth.started_at) if truth and truth.started_at else "",
                    format_utc(truth.ended_at) if truth and truth.ended_at else "",
                    _s(truth.energy_kwh if truth else None),
                    _s(cdr.total_energy_kwh if cdr else None),
                    _s(invoice.energy_kwh if invoice else None),
                    _s(truth_cost),
                    _s(cdr_cost),
                    _s(invoiced_cost),
                    (truth.currency if truth and truth.currency else (invoice.currency if invoice else "")),
                    row.klass,
                    row.detail,
                ]
            )


def write_authorizations(
    path: Path, records: Sequence[AuthorizationRecord], partner_of: dict[str, str]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("at", "partner", "station_id", "token_uid", "result", "latency_ms"))
        for record in records:
            writer.writerow(
                (
                    format_utc(record.at),
                    partner_of.get(record.station_id, ""),
                    record.station_id,
                    record.token_uid,
                    record.result,
                    record.latency_ms,
                )
            )


FINDINGS_FILE = "findings.csv"
FINDINGS_COLUMNS = ("partner", "kind", "count", "first_seen", "example", "what")


def write_findings(
    path: Path, findings: Iterable[FindingRecord], owner: Callable[[str, PartyRef], str]
) -> None:
    """findings.csv: one row per partner (the summary's CPO id) and kind, in the order first seen:
    how often, when first, its first example, and what the kind means (emsp.findings)."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for finding in sorted(findings, key=lambda f: f.at):
        key = (owner(finding.partner, finding.party), finding.kind)
        if key in merged:
            merged[key][2] += finding.count
        else:
            merged[key] = [
                *key,
                finding.count,
                format_utc(finding.at),
                finding.detail,
                describe(finding.kind),
            ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FINDINGS_COLUMNS)
        writer.writerows(merged.values())

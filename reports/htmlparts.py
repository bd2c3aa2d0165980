"""HTML pieces shared by the report pages: escaped tables and cells (every value is escaped)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd


def table(df: pd.DataFrame, *, row_bad: Callable[[pd.Series], bool] | None = None) -> str:
    if df.empty:
        return "<p class=note>No data.</p>"
    head = "".join(f"<th>{e(str(col))}</th>" for col in df.columns)
    rows = []
    for _, row in df.iterrows():
        cells = "".join(cell(value) for value in row.tolist())
        cls = ' class="bad"' if row_bad is not None and row_bad(row) else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def cell(value: Any) -> str:
    numeric = isinstance(value, Decimal | int | float) and not isinstance(value, bool)
    cls = ' class="num"' if numeric else ""
    return f"<td{cls}>{e(fmt(value))}</td>"


def fmt(value: Any) -> str:
    """Display text of a table cell: Decimals verbatim (scale kept), times ISO UTC, unknown empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def e(text: str) -> str:
    return html.escape(text, quote=True)

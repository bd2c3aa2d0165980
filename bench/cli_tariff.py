"""`emsp-bench tariff`: recompute CDR totals from a tariff, quote sessions, lint tariffs.

Exit codes follow the bench convention: 0 agree/valid, 1 totals differ, 2 invalid input.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import simplejson
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from emsp.settlement.tariff import (
    POLICIES,
    PriceResult,
    PricingPolicy,
    Tariff,
    TariffError,
    lint_tariff,
    parse_tariff,
    price_cdr,
    quote,
)
from emsp.settlement.tariff.cdr import COST_FIELDS, VOLUME_FIELDS
from emsp.timeutil import parse_utc
from emsp.wire import loads

tariff_app = typer.Typer(
    help="OCPI 2.2.1 tariff engine: recompute CDR totals, quote sessions, lint tariffs.",
    no_args_is_help=True,
)

TzOpt = Annotated[str | None, typer.Option("--tz", help="IANA zone for time restrictions.")]
PolicyOpt = Annotated[str, typer.Option("--policy", help=f"Pricing policy: {', '.join(POLICIES)}.")]
DecimalsOpt = Annotated[int | None, typer.Option("--decimals", help="Money decimals (overrides the policy).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the recomputed totals as CDR JSON.")]


def _fail(message: str) -> typer.Exit:
    # Plain text, never wrapped: the message names a file path and a field path to grep for.
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_json(path: Path) -> Any:
    try:
        return loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise _fail(f"{path}: not valid JSON ({exc})") from None


def _load_tariff(path: Path) -> Tariff:
    try:
        return parse_tariff(_read_json(path))
    except TariffError as exc:
        raise _fail(f"{path}: {exc}") from None


def _policy(name: str, decimals: int | None) -> PricingPolicy:
    if name not in POLICIES:
        raise _fail(f"--policy: unknown policy {name!r} (known: {', '.join(POLICIES)})")
    policy = POLICIES[name]
    if decimals is not None:
        if not 0 <= decimals <= 10:
            raise _fail("--decimals: must be between 0 and 10")
        policy = replace(policy, name=f"{policy.name}/{decimals}dp", decimals=decimals)
    return policy


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _show(value: Any) -> str:
    """A total for humans: volumes as numbers, prices as 'excl / incl' (incl '-' when unknown)."""
    if isinstance(value, dict):
        return f"{_fmt(value['excl_vat'])} excl / {_fmt(value.get('incl_vat'))} incl VAT"
    return _fmt(value)


# Wide enough for the breakdown when stdout is not a terminal (CI logs, pipes); a terminal's own width wins.
_WIDTH = None if sys.stdout.isatty() else 120


def _breakdown(result: PriceResult) -> Table:
    table = Table(title=f"Breakdown ({result.currency}, policy {result.policy})", box=box.SIMPLE_HEAD)
    for col in (
        "#",
        "start (UTC)",
        "dimension",
        "elem",
        "volume",
        "billed",
        "price",
        "vat%",
        "step",
        "excl",
        "incl",
    ):
        table.add_column(
            col, justify="left" if col in ("start (UTC)", "dimension") else "right", no_wrap=True
        )
    q = Decimal("1e-4")
    for ln in result.lines:
        table.add_row(
            str(ln.period_index),
            ln.start.strftime("%m-%d %H:%M:%S"),
            ln.dimension,
            "-" if ln.element_index is None else str(ln.element_index),
            _fmt(ln.volume.quantize(q)),
            _fmt(ln.billed_volume.quantize(q)),
            _fmt(ln.unit_price),
            _fmt(ln.vat),
            "-" if ln.step_size is None else str(ln.step_size),
            "free" if ln.cost is None else _fmt(ln.cost.excl_vat.quantize(q)),
            "-" if ln.cost is None or ln.cost.incl_vat is None else _fmt(ln.cost.incl_vat.quantize(q)),
        )
    return table


def _stated(cdr: dict[str, Any], name: str) -> dict[str, Decimal] | None:
    """A CDR total as {excl_vat, incl_vat}; 2.1.1 CDRs state total_cost as a bare number (excl. VAT)."""
    raw = cdr.get(name)
    if raw is None:
        return None
    try:
        if isinstance(raw, dict):
            return {k: Decimal(str(raw[k])) for k in ("excl_vat", "incl_vat") if raw.get(k) is not None}
        return {"excl_vat": Decimal(str(raw))}
    except (InvalidOperation, ValueError):
        raise TariffError(name, "must be a Price object or number") from None


def _compare(
    cdr: dict[str, Any], result: PriceResult, policy: PricingPolicy
) -> list[tuple[str, str, str, bool]]:
    """(field, stated, recomputed, agrees) for every total the CDR states."""
    mine = result.totals.to_ocpi(volume_decimals=None)
    rows = []
    vq = Decimal(1).scaleb(-policy.volume_decimals)
    for name in VOLUME_FIELDS:
        if cdr.get(name) is None:
            continue
        stated = Decimal(str(cdr[name]))
        ok = stated.quantize(vq, policy.rounding) == Decimal(mine[name]).quantize(vq, policy.rounding)
        rows.append((name, _fmt(stated), _fmt(Decimal(mine[name]).quantize(vq)), ok))
    for name in COST_FIELDS:
        stated_price = _stated(cdr, name)
        if stated_price is None:
            continue
        computed = mine.get(name, {})
        for part, value in stated_price.items():
            other = computed.get(part)
            ok = other is not None and policy.money(value) == policy.money(other)
            rows.append((f"{name}.{part}", _fmt(value), _fmt(other), ok))
    return rows


@tariff_app.command("price")
def price_command(
    tariff: Annotated[
        list[Path],
        typer.Option(
            "--tariff", help="OCPI 2.2.1 Tariff JSON file; repeat it when the CDR's periods switch tariffs."
        ),
    ],
    cdr: Annotated[Path, typer.Option("--cdr", help="CDR JSON file (partial CDRs accepted).")],
    tz: TzOpt = None,
    as_json: JsonOpt = False,
    policy_name: PolicyOpt = "default",
    decimals: DecimalsOpt = None,
) -> None:
    """Recompute a CDR's totals from a tariff and show the difference to the CDR's own totals."""
    policy = _policy(policy_name, decimals)
    loaded = [_load_tariff(path) for path in tariff]
    parsed = loaded[0] if len(loaded) == 1 else {t.id: t for t in loaded}
    data = _read_json(cdr)
    if not isinstance(data, dict):
        raise _fail(f"{cdr}: must be a JSON object (a CDR)")
    location = data.get("cdr_location")
    zone_name = tz or (location.get("time_zone") if isinstance(location, dict) else None) or "UTC"
    try:
        result = price_cdr(parsed, data, tz=zone_name, policy=policy)
        rows = _compare(data, result, policy)
    except TariffError as exc:
        where = "--tz" if exc.field == "tz" else str(cdr)
        raise _fail(f"{where}: {exc}") from None
    agree = all(ok for *_rest, ok in rows)
    console = Console(width=_WIDTH)
    if as_json:
        typer.echo(
            simplejson.dumps(result.totals.to_ocpi(policy.volume_decimals), use_decimal=True, indent=2)
        )
    else:
        console.print(_breakdown(result))
        table = Table(title=f"Totals vs CDR (time zone {zone_name})")
        for col in ("field", "CDR", "recomputed", ""):
            table.add_column(col)
        for name, stated, mine, ok in rows:
            table.add_row(name, stated, mine, "[green]ok[/green]" if ok else "[red]DIFF[/red]")
        if not rows:
            console.print("The CDR states no totals; recomputed:")
            for key, value in result.totals.to_ocpi(policy.volume_decimals).items():
                table.add_row(key, "-", _show(value), "")
        console.print(table)
        for warning in result.warnings:
            typer.echo(f"warning: {warning}")
    raise typer.Exit(0 if agree else 1)


_QUOTE_OPTIONS = {"energy_kwh": "--kwh", "duration": "--duration", "power_kw": "--power", "tz": "--tz"}


@tariff_app.command("quote")
def quote_command(
    tariff: Annotated[Path, typer.Option("--tariff", help="OCPI 2.2.1 Tariff JSON file.")],
    start: Annotated[str, typer.Option("--start", help="Session start, ISO 8601 (UTC if no offset).")],
    kwh: Annotated[str, typer.Option("--kwh", help="Energy to deliver, kWh.")],
    duration: Annotated[str, typer.Option("--duration", help="Session duration, minutes.")],
    power: Annotated[str | None, typer.Option("--power", help="Charging power, kW (else spread).")] = None,
    tz: Annotated[str, typer.Option("--tz", help="IANA zone for time restrictions.")] = "UTC",
    as_json: JsonOpt = False,
    policy_name: PolicyOpt = "default",
    decimals: DecimalsOpt = None,
) -> None:
    """Price a hypothetical session: charge at --power until --kwh is in, park for the rest."""
    policy = _policy(policy_name, decimals)
    parsed = _load_tariff(tariff)
    try:
        begin = parse_utc(start)
    except ValueError:
        raise _fail(f"--start: not an ISO 8601 timestamp: {start!r}") from None
    try:
        energy, minutes = Decimal(kwh), Decimal(duration)
        power_kw = None if power is None else Decimal(power)
    except InvalidOperation:
        raise _fail("--kwh/--duration/--power: must be numbers") from None
    if not minutes.is_finite() or minutes <= 0:
        raise _fail("--duration: must be a positive number of minutes")
    try:
        result = quote(
            parsed,
            start=begin,
            energy_kwh=energy,
            duration=timedelta(microseconds=int(minutes * 60_000_000)),
            power_kw=power_kw,
            tz=tz,
            policy=policy,
        )
    except TariffError as exc:
        option = _QUOTE_OPTIONS.get(exc.field, exc.field)
        raise _fail(f"{option}: {exc.reason}") from None
    if as_json:
        typer.echo(
            simplejson.dumps(result.totals.to_ocpi(policy.volume_decimals), use_decimal=True, indent=2)
        )
        return
    console = Console(width=_WIDTH)
    console.print(_breakdown(result))
    table = Table(title="Quote")
    table.add_column("field")
    table.add_column("value")
    for key, value in result.totals.to_ocpi(policy.volume_decimals).items():
        table.add_row(key, _show(value))
    console.print(table)


@tariff_app.command("lint")
def lint_command(path: Annotated[Path, typer.Argument(help="OCPI 2.2.1 Tariff JSON file.")]) -> None:
    """Check a tariff: errors exit 2, warnings are printed and exit 0."""
    report = lint_tariff(_read_json(path))
    for error in report.errors:
        typer.echo(f"error: {path}: {error}")
    for warning in report.warnings:
        typer.echo(f"warning: {path}: {warning}")
    if report.errors:
        raise typer.Exit(2)
    typer.echo(f"{path}: ok ({len(report.warnings)} warning(s))")

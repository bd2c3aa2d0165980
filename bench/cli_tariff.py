"""`emsp-bench tariff`: recompute CDR totals from a tariff, quote sessions, lint tariffs.

Exit codes follow the bench convention: 0 agree/valid, 1 totals differ, 2 invalid input.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

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
from emsp.settlement.tariff.engine import zone
from emsp.settlement.tariff.model import to_decimal
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


# Largest magnitude accepted for a stated CDR total (and for --kwh). Totals are compared after
# quantizing to at most 10 decimals (--decimals) in Python's default 28-digit decimal context, so
# 15 integer digits always fit exactly; beyond that `quantize` raises InvalidOperation. No real
# CDR states an amount, energy or duration anywhere near 10**15.
_MAX_DIGITS = 15
_RANGE = f"out of range (magnitude must be below 1e{_MAX_DIGITS})"


def _too_big(value: Decimal) -> bool:
    # adjusted() is the exponent of the leading digit; unlike abs() or arithmetic it never touches
    # the context, which would itself overflow on e.g. 1e999999999.
    return not value.is_zero() and value.adjusted() >= _MAX_DIGITS


def _number(value: Any, field: str) -> Decimal:
    """A stated number: finite (to_decimal) and below 1e15 in magnitude."""
    result = to_decimal(value, field)
    if _too_big(result):
        raise TariffError(field, _RANGE)
    return result


def _stated_volume(cdr: dict[str, Any], name: str) -> Decimal | None:
    raw = cdr.get(name)
    return None if raw is None else _number(raw, name)


def _stated(cdr: dict[str, Any], name: str) -> dict[str, Decimal] | None:
    """A CDR total as {excl_vat, incl_vat}; 2.1.1 CDRs state total_cost as a bare number (excl. VAT)."""
    raw = cdr.get(name)
    if raw is None:
        return None
    if isinstance(raw, dict):
        return {k: _number(raw[k], f"{name}.{k}") for k in ("excl_vat", "incl_vat") if raw.get(k) is not None}
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | float | str):
        raise TariffError(name, "must be a Price object or number")
    return {"excl_vat": _number(raw, name)}


def _stated_totals(cdr: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]]]:
    """Every total the CDR states, validated before anything is computed from them."""
    volumes = {name: v for name in VOLUME_FIELDS if (v := _stated_volume(cdr, name)) is not None}
    costs = {name: p for name in COST_FIELDS if (p := _stated(cdr, name)) is not None}
    return volumes, costs


def _compare(
    stated: tuple[dict[str, Decimal], dict[str, dict[str, Decimal]]],
    result: PriceResult,
    policy: PricingPolicy,
) -> list[tuple[str, str, str, bool]]:
    """(field, stated, recomputed, agrees) for every total the CDR states (see _stated_totals)."""
    volumes, costs = stated
    mine = result.totals.to_ocpi(volume_decimals=None)
    rows = []
    vq = Decimal(1).scaleb(-policy.volume_decimals)
    for name, value in volumes.items():
        ok = value.quantize(vq, policy.rounding) == Decimal(mine[name]).quantize(vq, policy.rounding)
        rows.append((name, _fmt(value), _fmt(Decimal(mine[name]).quantize(vq)), ok))
    for name, stated_price in costs.items():
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
    zone_name, tzinfo = _price_zone(tz, data, cdr)
    try:
        claimed = _stated_totals(data)
        result = price_cdr(parsed, data, tz=tzinfo, policy=policy)
        rows = _compare(claimed, result, policy)
    except TariffError as exc:
        raise _fail(f"{cdr}: {exc}") from None
    except ArithmeticError:
        # Safety net (OverflowError included): charging-period volumes or tariff prices so large
        # that the totals leave the decimal context, or period times so close to year 9999 that a
        # local-time conversion overflows. The stated totals are bounded above and never get here.
        raise _fail(
            f"{cdr}: charging_periods: a volume or time is out of the range that can be priced"
        ) from None
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


def _price_zone(tz: str | None, data: dict[str, Any], cdr: Path) -> tuple[str, ZoneInfo]:
    """The zone for time restrictions: --tz, else the CDR's cdr_location.time_zone, else UTC.

    Resolved here so that an error names where the bad zone came from: the option or the file.
    """
    if tz is not None:
        try:
            return tz, zone(tz)
        except TariffError as exc:
            raise _fail(f"--tz: {exc.reason}") from None
    location = data.get("cdr_location")
    name = location.get("time_zone") if isinstance(location, dict) else None
    if name is None:
        return "UTC", zone("UTC")
    field = "cdr_location.time_zone"
    if not isinstance(name, str):
        raise _fail(f"{cdr}: {field}: must be an IANA time zone name (a string)")
    try:
        return name, zone(name)
    except TariffError as exc:
        raise _fail(f"{cdr}: {field}: {exc.reason}") from None


# Quote bounds: a "session" longer than a year is not a charging session, and pricing time runs in
# charging periods (one per restriction boundary), so far longer durations only burn CPU; --kwh
# shares the stated-total bound so that energy * price still quantizes exactly.
_MAX_QUOTE_DURATION = timedelta(days=366)
_MAX_QUOTE_MINUTES = Decimal(int(_MAX_QUOTE_DURATION.total_seconds()) // 60)
# The period builder scans local days from the day before the start to the day after the end
# (plus up to 14 h of zone offset), so keep two days clear of datetime's year 1 / year 9999 limits.
_QUOTE_FIRST = datetime(1, 1, 3, tzinfo=UTC)
_QUOTE_LAST = datetime(9999, 12, 29, tzinfo=UTC)


def _option_number(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _fail(f"{option}: must be a number, got {text!r}") from None
    if not value.is_finite():
        raise _fail(f"{option}: must be a finite number")
    return value


_QUOTE_OPTIONS = {"energy_kwh": "--kwh", "duration": "--duration", "power_kw": "--power", "tz": "--tz"}


@tariff_app.command("quote")
def quote_command(
    tariff: Annotated[Path, typer.Option("--tariff", help="OCPI 2.2.1 Tariff JSON file.")],
    start: Annotated[
        str, typer.Option("--start", help="Session start, RFC 3339 with its offset (Z for UTC).")
    ],
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
    if not start.endswith(("Z", "z")) and datetime.fromisoformat(start).tzinfo is None:
        # A wall time without its zone is ambiguous (UTC? the site's?): ask, as the contract API does.
        raise _fail(f"--start: needs a time zone offset (e.g. {start}Z): {start!r}")
    if begin < _QUOTE_FIRST:
        raise _fail(f"--start: must not be before {_QUOTE_FIRST:%Y-%m-%d}")
    energy = _option_number(kwh, "--kwh")
    if _too_big(energy):
        raise _fail(f"--kwh: {_RANGE}")
    minutes = _option_number(duration, "--duration")
    if minutes <= 0:
        raise _fail("--duration: must be a positive number of minutes")
    if minutes > _MAX_QUOTE_MINUTES:
        raise _fail(f"--duration: at most {_MAX_QUOTE_MINUTES} minutes ({_MAX_QUOTE_DURATION.days} days)")
    power_kw = None if power is None else _option_number(power, "--power")
    span = timedelta(microseconds=int(minutes * 60_000_000))
    if begin > _QUOTE_LAST - span:
        raise _fail(f"--start/--duration: the session must end by {_QUOTE_LAST:%Y-%m-%d}")
    try:
        result = quote(
            parsed,
            start=begin,
            energy_kwh=energy,
            duration=span,
            power_kw=power_kw,
            tz=tz,
            policy=policy,
        )
    except TariffError as exc:
        if exc.field.startswith("samples"):  # meter samples derived from --kwh/--power/--duration
            raise _fail(f"--kwh/--power/--duration: {exc}") from None
        option = _QUOTE_OPTIONS.get(exc.field, exc.field)
        raise _fail(f"{option}: {exc.reason}") from None
    except ArithmeticError:
        # Safety net (OverflowError included): tariff prices or durations (max_duration) so extreme
        # that totals or times leave the supported range; the options themselves are bounded above.
        raise _fail(f"{tariff}: cannot price this session: a price or duration is out of range") from None
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

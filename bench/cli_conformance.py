"""`emsp-bench conformance ocpp`: OCPP conformance cases (bench/conformance) against a CSMS or a station."""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from bench.cli_paths import check_output

conformance_app = typer.Typer(
    help="Conformance suites with OCA test-case ids, written as JUnit XML.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# OCPP 2.0.1 identifierString (the station identity in the connection URL, at most 48 characters);
# 1.6 sets no rule of its own, and these characters need no escaping in a URL path.
STATION_ID = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,48}")
# The idToken / idTag a station sends: 1.6 IdToken is CiString20, 2.0.1 IdTokenType.idToken string(36).
TOKEN_LENGTH = {"1.6": 20, "2.0.1": 36}


def _invalid(option: str, reason: str) -> typer.Exit:
    typer.echo(f"invalid input: {option}: {reason}", err=True)
    return typer.Exit(2)


def _check_station_side(version: str, station_id: str, token: str, invalid_token: str) -> None:
    """What the bench sends as the station: refused here (exit 2), not by the CSMS under test (which
    would make every case an error, exit 3, as if the CSMS could not be reached)."""
    if not STATION_ID.fullmatch(station_id):
        raise _invalid(
            "--station-id",
            f"{station_id!r} is not an OCPP identifierString: 1 to 48 of A-Z a-z 0-9 * - _ = : + | @ .",
        )
    for option, value in (("--token", token), ("--invalid-token", invalid_token)):
        if not 0 < len(value) <= TOKEN_LENGTH[version]:
            raise _invalid(option, f"an OCPP {version} idToken has 1 to {TOKEN_LENGTH[version]} characters")


@conformance_app.command("ocpp")
def ocpp_suite(
    role: Annotated[
        str | None,
        typer.Option(
            metavar="csms|station",
            help="What is under test: a CSMS (the bench plays a station) "
            "or a station (the bench plays the CSMS it connects to).",
        ),
    ] = None,
    version: Annotated[str | None, typer.Option(metavar="1.6|2.0.1", help="OCPP version.")] = None,
    target: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="csms: the CSMS's ws[s]:// URL (the station id is appended); "
            "station: where the bench listens, e.g. ws://0.0.0.0:9000/ocpp (port 0: any; printed).",
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write the results as JUnit XML here.")] = None,
    station_id: Annotated[
        str, typer.Option(help="csms: the station id the bench connects as.")
    ] = "CONFORMANCE-1",
    token: Annotated[str, typer.Option(help="csms: a token the CSMS accepts.")] = "CONF-OK",
    invalid_token: Annotated[
        str, typer.Option(help="csms: a token the CSMS does not know.")
    ] = "CONF-UNKNOWN",
    wait: Annotated[float, typer.Option(help="station: seconds to wait for the station to connect.")] = 120.0,
    coverage: Annotated[
        bool,
        typer.Option("--coverage", help="Print the coverage table (message x direction x station x CSMS)."),
    ] = False,
) -> None:
    """Run the OCPP conformance cases of one role and version; exit 0 all passed, 1 some failed,
    2 invalid input, 3 the cases could not run (nothing connected)."""
    from bench.conformance.cases import cases_for
    from bench.conformance.run import ListenError, run_against_csms, run_against_station
    from reports import JunitCase, write_junit

    if coverage:
        from bench.conformance.coverage import coverage_markdown

        typer.echo(coverage_markdown())
        raise typer.Exit(0)
    if junit is not None:
        check_output(junit, "--junit", directory=False)
    if role not in ("csms", "station"):
        raise _invalid("--role", f"must be csms or station, not {role!r}")
    if version not in ("1.6", "2.0.1"):
        raise _invalid("--version", f"must be 1.6 or 2.0.1, not {version!r}")
    if target is None:
        raise _invalid("--target", "a ws:// or wss:// URL is needed")
    parts = urlsplit(target)
    if parts.scheme not in (("ws", "wss") if role == "csms" else ("ws",)) or not parts.hostname:
        raise _invalid(
            "--target", f"{target!r} is not a {'ws[s]' if role == 'csms' else 'ws'}:// URL with a host"
        )
    try:
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError as exc:
        raise _invalid("--target", f"{target!r}: {exc}") from None
    if role == "csms":
        _check_station_side(version, station_id, token, invalid_token)
    elif not (math.isfinite(wait) and wait > 0):
        raise _invalid("--wait", f"must be a positive number of seconds, not {wait}")
    if role == "csms":
        results = asyncio.run(
            run_against_csms(version, target, station_id=station_id, token=token, invalid_token=invalid_token)  # type: ignore[arg-type]
        )
    else:
        announce = lambda url: typer.echo(f"connect the station under test to {url}", err=True)  # noqa: E731
        try:
            results = asyncio.run(run_against_station(version, target, wait_s=wait, announce=announce))  # type: ignore[arg-type]
        except ListenError as exc:
            raise _invalid("--target", str(exc)) from None
    assert len(results) == len(cases_for(version, role))
    for r in results:
        verdict = "PASS" if r.passed else ("ERROR" if r.error else "FAIL")
        typer.echo(f"{verdict} {r.case.id} {r.case.title}" + (f": {r.message}" if r.message else ""))
    passed = sum(r.passed for r in results)
    typer.echo(f"{passed} of {len(results)} cases passed (OCPP {version}, {role} under test)")
    if junit is not None:
        write_junit(
            junit,
            f"emsp-bench.conformance.ocpp{version}.{role}",
            [JunitCase(name=f"{r.case.id} {r.case.title}", passed=r.passed, message=r.message,
                       classname=f"ocpp{version}.{role}", error=r.error) for r in results],
        )  # fmt: skip
    if all(r.error for r in results):
        raise typer.Exit(3)
    raise typer.Exit(0 if passed == len(results) else 1)

"""Runs the conformance cases of one role and version against a target, one result per case."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidHandshake
from websockets.typing import Subprotocol

from bench.conformance.cases import Case, CaseFailed, CsmsSide, StationSide, cases_for
from bench.conformance.peer import Peer
from simulators.ocppj import subprotocol
from simulators.ocppj.codec import OcppVersion

CASE_TIMEOUT_S = 60.0


class ListenError(ValueError):
    """The bench cannot listen where it was told to (address in use, not this host's): invalid input."""


@dataclass(frozen=True)
class CaseResult:
    case: Case
    passed: bool
    message: str = ""
    error: bool = False  # the case could not be run (no connection): a JUnit <error>
    seconds: float = 0.0


async def _run_one(case: Case, ctx: object) -> CaseResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(case.run(ctx), CASE_TIMEOUT_S)
    except CaseFailed as exc:
        return CaseResult(case, False, str(exc), seconds=time.perf_counter() - started)
    except TimeoutError:
        return CaseResult(
            case, False, f"no verdict in {CASE_TIMEOUT_S:g} s", seconds=time.perf_counter() - started
        )
    return CaseResult(case, True, seconds=time.perf_counter() - started)


async def run_against_csms(
    version: OcppVersion, target: str, *, station_id: str, token: str, invalid_token: str
) -> list[CaseResult]:
    """The CSMS at `target` (ws[s]://host:port/path) is under test; each case on its own connection
    of station `station_id`."""
    results = []
    url = f"{target.rstrip('/')}/{station_id}"
    for case in cases_for(version, "csms"):
        try:
            ws = await connect(url, subprotocols=[Subprotocol(subprotocol(version))], open_timeout=10,
                               ping_interval=None)  # fmt: skip
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            results.append(
                CaseResult(case, False, f"cannot connect to {url}: {type(exc).__name__}: {exc}", error=True)
            )
            continue
        peer = Peer(ws, version, plays="station")
        try:
            if ws.subprotocol != subprotocol(version):
                results.append(
                    CaseResult(case, False, f"the CSMS agreed to no {subprotocol(version)} subprotocol")
                )
                continue
            results.append(await _run_one(case, StationSide(peer, station_id, token, invalid_token)))
        finally:
            await peer.close()
    return results


async def run_against_station(
    version: OcppVersion, listen: str, *, wait_s: float, announce: Callable[[str], None]
) -> list[CaseResult]:
    """The bench listens at `listen` (ws://host:port/path; port 0: any) as the CSMS; the station under
    test connects to `<url>/<its id>` (announced) within `wait_s` seconds; the cases run in order on
    its connection (the reset case waits for it to reconnect)."""
    parts = urlsplit(listen)
    connections: asyncio.Queue[Peer] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        await connections.put(Peer(ws, version, plays="csms", prefix="c"))
        await ws.wait_closed()

    protocols = [Subprotocol(subprotocol(version))]
    host = parts.hostname or "127.0.0.1"
    try:
        server = await serve(handler, host, parts.port or 0, subprotocols=protocols, ping_interval=None)
    except OSError as exc:
        # Only binding happens here: a busy port or a foreign address is the operator's input.
        raise ListenError(f"cannot listen on {host}:{parts.port or 0}: {exc.strerror or exc}") from exc
    async with server:
        port = next(iter(server.sockets)).getsockname()[1]
        announce(f"ws://{host}:{port}{parts.path.rstrip('/')}/<station id>")
        cases = cases_for(version, "station")
        try:
            first = await asyncio.wait_for(connections.get(), wait_s)
        except TimeoutError:
            return [CaseResult(c, False, f"no station connected in {wait_s:g} s", error=True) for c in cases]
        ctx = CsmsSide(lambda: asyncio.wait_for(connections.get(), 30), first)
        results = [await _run_one(case, ctx) for case in cases]
        await ctx.peer.close()
        return results

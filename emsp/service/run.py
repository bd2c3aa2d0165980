"""Run the eMSP as a long-running service: core from the configuration, partners upserted, one
uvicorn server, and the pump that sends the core's outbound calls (credentials handshakes,
token pushes) and feeds their answers back. Restart-safe: everything lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from emsp.api import core_thread as make_core_thread
from emsp.api import ocpi_first
from emsp.core import EmspCore, EmspSettings
from emsp.core_thread import CoreThread
from emsp.nats_stream import DEFAULT_PREFIX, DEFAULT_STREAM
from emsp.service.app import create_service_app
from emsp.service.background import background
from emsp.service.config import ConfigError, ServiceConfig
from emsp.services.partners import PartnerConfigError
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest

log = logging.getLogger(__name__)


def wall_clock() -> datetime:
    return datetime.now(UTC)  # the service runs in real time; the core only ever gets `now` passed


def _token_secret(config: ServiceConfig) -> bytes:
    """The operator's secret, else a fresh random one: tokens must not be computable from public
    facts, and the ones already issued are stored, so a new secret per start loses nothing."""
    if config.token_secret is not None:
        return config.token_secret.encode("utf-8")
    return secrets.token_bytes(32)


def build_core(config: ServiceConfig, database_url: str, config_file: str) -> EmspCore:
    e = config.emsp
    settings = EmspSettings(
        country_code=e.country_code,
        party_id=e.party_id,
        business_name=e.business_name,
        base_url=f"{e.public_url}/ocpi",
        database_url=database_url,
        inline_drain=False,  # answers never wait for billing: the background worker drains the outbox
        fraud=config.fraud.config(),
        token_secret=_token_secret(config),
    )
    core = EmspCore(settings)
    for index, partner in enumerate(config.partners):
        parties = [(p.country_code, p.party_id, p.role) for p in partner.parties]
        try:  # upsert: a registered partner keeps its registration across restarts
            core.register_partner(
                partner.id, partner.token_a, parties=parties, hub=partner.hub, tolerate=partner.tolerate
            )
        except PartnerConfigError as exc:
            raise ConfigError(config_file, f"partners[{index}].{exc.field}", exc.reason) from exc
    core.refused_endpoints()  # logs the URLs of older registrations that are never called
    return core


async def _send(client: httpx.AsyncClient, request: HttpRequest) -> HttpResponse:
    """Send; any failure becomes a 599 so the core sees a failed call (3001 in a handshake, a FAILED
    command, a push to retry). Not only network errors: a URL httpx cannot parse (InvalidURL, a
    ValueError) or a header it cannot encode (UnicodeEncodeError) are no httpx.HTTPError, and an
    exception left in the call's task would leave the core waiting for an answer forever."""
    try:
        body = request.body.encode("utf-8") if request.body is not None else None
        response = await client.request(request.method, request.url, headers=request.headers, content=body)
    except httpx.HTTPError as exc:
        log.info("%s %r failed: %s", request.method, request.url, type(exc).__name__)
        return HttpResponse(599, {}, None)
    except Exception:
        log.warning("%s %r could not be sent", request.method, request.url, exc_info=True)
        return HttpResponse(599, {}, None)
    return HttpResponse(response.status_code, dict(response.headers.items()), response.text or None)


def _outbound_or_new_deadline(core: EmspCore, known: datetime | None) -> list[OutboundRequest] | None:
    """What the core wants sent, or [] when its next handshake deadline moved; None: nothing new."""
    outbound = core.pending_requests()
    if outbound or core.next_deadline() != known:
        return outbound
    return None


async def pump_outbound(core: EmspCore, clock: Callable[[], datetime], thread: CoreThread) -> None:
    """Send what the core asks for, each call on its own task; expire handshakes nobody answers.
    Every call into the core goes through its thread (the core is not thread-safe). Between rounds
    it waits, without polling, for a core call that may have queued something or for the next
    handshake deadline. Runs until cancelled."""
    calls: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(timeout=10.0) as client:

        async def call(outbound: OutboundRequest) -> None:
            response = await _send(client, outbound.request)
            try:
                await thread.call(core.on_response, outbound.request_id, response, clock())
            except Exception:
                # A fault of the core with one answer: said once, with what finds the call in the
                # partner's logs too; it must neither vanish with this task nor stop the pump.
                headers = outbound.request.headers
                log.exception(
                    "the answer to %s %r (partner %s, X-Correlation-ID %s, HTTP %s) could not be handled",
                    outbound.request.method,
                    outbound.request.url,
                    outbound.partner,
                    headers.get("X-Correlation-ID", outbound.request_id),
                    response.status,
                )

        try:
            while True:
                deadline = await thread.read(core.next_deadline)
                wait = None if deadline is None else max(0.0, (deadline - clock()).total_seconds())
                outbound = await thread.poll(_outbound_or_new_deadline, core, deadline, timeout=wait)
                for request in outbound or ():
                    task = asyncio.ensure_future(call(request))
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                if deadline is not None and clock() >= deadline:
                    await thread.call(core.expire_overdue, clock())
        finally:
            for task in calls:
                task.cancel()


def no_delay(sock: socket.socket) -> socket.socket:
    """TCP_NODELAY on a listening socket: connections accepted from it inherit it (Linux).

    asyncio sets it itself only on sockets created with proto=IPPROTO_TCP, and a listener made with
    `socket.socket(AF_INET, SOCK_STREAM)` has proto 0: every answer then waited for Nagle and the
    client's delayed ACK, ~40 ms per request on loopback (uvicorn writes head and body apart)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@contextlib.contextmanager
def steady_runtime() -> Iterator[None]:
    """The interpreter tuned for serving, put back when serving ends.

    - What start-up built (modules, the ORM's metadata, the app, the core and its caches) lives as
      long as the service: frozen out of the collector's scans (gc.freeze), young objects collected
      less often. Otherwise a full collection walks all of it on the core thread or the event loop,
      and every answer in flight waits it out.
    - GIL hand-over every 1 ms instead of 5: the core thread runs batches of requests back to back
      while the event loop waits to read the next requests and write the answers; each hand-over
      it waits for is added to the latency of every connection at once.

    Both were in the p99 of `python -m bench.perf.authorize`."""
    thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(switch)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def serve(
    core: EmspCore,
    admin_token: str,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None] | None = None,
    bus_url: str | None = None,
    bus_stream: str = DEFAULT_STREAM,
    bus_subject_prefix: str = DEFAULT_PREFIX,
    metrics_token: str | None = None,
) -> None:
    """Serve until stopped. The core runs on one dedicated thread (off the event loop); its outbox is
    drained by a background worker (published to NATS JetStream with `bus_url`)."""
    no_delay(sock)
    thread = make_core_thread(core)
    app = ocpi_first(
        create_service_app(core, admin_token, wall_clock, core_thread=thread, metrics_token=metrics_token),
        core.settings.base_url,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        with steady_runtime():
            async with background(
                core, wall_clock, run=thread.call, bus_url=bus_url, stream=bus_stream,
                subject_prefix=bus_subject_prefix,
            ):  # fmt: skip
                pump = asyncio.ensure_future(pump_outbound(core, wall_clock, thread))
                task = asyncio.ensure_future(server.serve(sockets=[sock]))
                try:
                    while not server.started:
                        if task.done():
                            task.result()
                            return
                        await asyncio.sleep(0.01)
                    if on_ready is not None:
                        on_ready()
                    await task
                finally:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
    finally:
        thread.close()


def default_database_url(cwd: Path) -> str:
    return f"sqlite:///{cwd / 'emsp-service.db'}"

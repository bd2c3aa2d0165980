"""`emsp-bench serve csms`: the mock CSMS as a service for real chargers.

OCPP-J over WebSocket at `/ocpp/{station_id}` (1.6J or 2.0.1, chosen by subprotocol), and a control
API beside it: `GET /api/v1/stations`, `GET /api/v1/stations/{id}` and
`POST /api/v1/stations/{id}/calls/{action}` (a CSMS-initiated CALL; the station's answer). The sans-IO
`Csms` does the protocol; this module only moves frames, keeps what each station did, and times out
CALLs. Everything runs on one event loop: the Csms is never touched from two tasks at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import simplejson
import structlog
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from bench.conformance.coverage import csms_initiated
from bench.ocpp_security import parse_basic, peer_common_name
from bench.serve_csms_config import CsmsServiceConfig
from bench.serve_csms_exercise import STARTS, STEPS, Context
from emsp.timeutil import format_utc
from simulators.cpo.csms import CallAnswered, Csms, CsmsOutput
from simulators.cpo.csms_local_list import TOKEN_MAX
from simulators.cpo.events import (
    ConnectorStatusChanged,
    DeviceModelReported,
    MeterSampled,
    StationBooted,
    TransactionEnded,
    TransactionStarted,
    UpkeepStatus,
)
from simulators.ocppj import LocalProtocolError, OcppVersion

SUBPROTOCOLS: dict[str, OcppVersion] = {"ocpp2.0.1": "2.0.1", "ocpp1.6": "1.6"}
MAX_ID = 48  # 2.0.1 part 4 §3.1.1: the identity is at most 48 characters
MAX_BODY = 1 << 20  # a control call's payload: no OCPP request comes near 1 MiB


def wall_clock() -> datetime:
    return datetime.now(UTC)


# 1.6 transaction ids: tenths of a second since this instant, when the service starts. Nothing is kept
# across restarts, so the clock is what tells a restarted service from the one before: its ids start
# above all the earlier run gave unless that run started more than ten transactions a second.
_ID_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_ID_SPAN = 2_000_000_000  # within a signed 32-bit integer, what many stations store an id in


def first_transaction_id(now: datetime) -> int:
    """The first 1.6 transactionId of a service started at `now` (1 up to about 2.1e9)."""
    return 1 + int((now - _ID_EPOCH).total_seconds() * 10) % _ID_SPAN


@dataclass
class StationRecord:
    """What the CSMS saw of one station (the control API's view)."""

    station_id: str
    version: OcppVersion
    connected: bool = True
    boots: int = 0
    last_seen: datetime | None = None
    connectors: dict[int, str] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    exercised: bool = False
    # Where each upkeep job last stood (firmware, publish, log, diagnostics) and the Actual values the
    # station's device-model reports gave (2.0.1 NotifyReport), by Component/Variable[/instance].
    upkeep: dict[str, dict[str, Any]] = field(default_factory=dict)
    device_model: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.station_id,
            "version": self.version,
            "connected": self.connected,
            "boots": self.boots,
            "last_seen": format_utc(self.last_seen) if self.last_seen else None,
            "connectors": {str(k): v for k, v in sorted(self.connectors.items())},
            "transactions": len(self.transactions),
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "transactions": list(self.transactions.values()),
            "calls": self.calls,
            "upkeep": self.upkeep,
            "device_model": dict(sorted(self.device_model.items())),
        }


class CsmsService:
    def __init__(self, config: CsmsServiceConfig, *, exercise: bool = False) -> None:
        self.config = config
        self.exercise = exercise
        listed = config.stations.unknown == "accept_listed"
        self.csms = Csms(
            "csms",
            heartbeat_interval_s=config.heartbeat_interval_s,
            authorize=config.authorizes,
            accept_boot=config.knows if listed else None,
            local_list=config.local_list_tokens(),
            local_list_per_message=config.local_list.per_message,
            first_transaction_id=first_transaction_id(wall_clock()),
        )
        self.records: dict[str, StationRecord] = {}
        self._sockets: dict[str, WebSocket] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, tuple[str, asyncio.Future[CallAnswered]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.log = structlog.get_logger("emsp_bench.csms")
        long = [t for t in config.local_list_tokens() or [] if len(t) > TOKEN_MAX["1.6"]]
        if long:
            self.log.warning(
                "local_list: tokens above 20 characters go to 2.0.1 stations only", count=len(long)
            )

    # -- OCPP-J over WebSocket -------------------------------------------------------------------
    async def connection(self, ws: WebSocket, station_id: str) -> None:
        conn_id = secrets.token_hex(4)
        log = self.log.bind(station_id=station_id, connection_id=conn_id)
        offered = list(ws.scope.get("subprotocols", []))
        refusal = None
        if not 0 < len(station_id) <= MAX_ID:
            refusal = f"station id longer than {MAX_ID} characters"
        elif self.config.stations.unknown == "reject" and station_id not in self.config.stations.listed:
            refusal = "station id not listed"
        if refusal is not None:
            log.warning("station refused", reason=refusal, offered=offered)
            await ws.close(code=1008)  # before accept: the handshake is answered 403
            return
        denied = self._security_refusal(ws, station_id)
        if denied is not None:
            status, reason = denied
            log.warning("station refused", reason=reason, status=status, scheme=ws.scope.get("scheme"))
            # A00 / the 1.6 whitepaper: bad or missing Basic credentials are answered 401 on the upgrade;
            # a transport below the station's profile (plain ws, no client certificate) 403.
            headers = {"WWW-Authenticate": 'Basic realm="OCPP", charset="UTF-8"'} if status == 401 else {}
            await ws.send_denial_response(Response(status_code=status, headers=headers))
            return
        version = next((SUBPROTOCOLS[p] for p in offered if p in SUBPROTOCOLS), None)
        if version is None:
            # OCPP-J 1.6 §3.1.2 / 2.0.1 part 4 §3.1.2: complete the handshake without a subprotocol,
            # then close at once.
            await ws.accept()
            await ws.close(code=1002, reason="no supported OCPP subprotocol")
            log.warning("station refused", reason="no supported subprotocol", offered=offered)
            return
        old = self._sockets.get(station_id)
        if old is not None:
            log.warning("station reconnected: closing its previous connection")
            await _close_quietly(old, 1000)
        await ws.accept(subprotocol=f"ocpp{version}")
        self._sockets[station_id] = ws
        record = self.records.get(station_id)
        if record is None:
            record = self.records[station_id] = StationRecord(station_id, version)
        elif record.version != version:
            # Back on the other OCPP version (a firmware update): what it did stays on record (the Csms
            # ends its open transactions, below); its connector ids and device model are the old
            # version's, so they start afresh.
            log.warning("station changed OCPP version", was=record.version, now=version)
            record.version, record.connectors, record.device_model = version, {}, {}
            record.exercised = False  # --exercise: the new version's steps are others
        record.connected, record.last_seen = True, wall_clock()
        lock = self._locks.setdefault(station_id, asyncio.Lock())
        log.info("station connected", version=version)
        async with lock:
            await self._dispatch(station_id, self.csms.on_connected(station_id, version, wall_clock()))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    log.warning("binary frame ignored: OCPP-J frames are text")
                    continue
                record.last_seen = wall_clock()
                async with lock:
                    output = self.csms.on_frame(station_id, text, wall_clock())
                    await self._dispatch(station_id, output)
        except WebSocketDisconnect:
            pass
        finally:
            if self._sockets.get(station_id) is ws:
                del self._sockets[station_id]
                record.connected = False
                self._fail_waiting(station_id, "Disconnected")
            log.info("station disconnected")

    def _security_refusal(self, ws: WebSocket, station_id: str) -> tuple[int, str] | None:
        """Why the station may not connect with what it presented (status, reason), None if it may.
        Checked before the handshake completes, so a refused station never reaches the Csms."""
        policy = self.config.security
        required = policy.profile_of(station_id)
        if required == 0:
            return None
        tls = ws.scope.get("scheme") == "wss"
        common_name = ws.scope.get("extensions", {}).get("tls", {}).get("client_cert_name")
        if required >= 2 and not tls:
            return 403, f"profile {required} wants TLS (wss://), the station came over plain ws://"
        if common_name is not None:
            # A certificate verified against our client CA is profile 3, which satisfies any profile,
            # but only for the station it names.
            if common_name != station_id:
                return 403, f"client certificate is for {common_name!r}"
            return None
        if required == 3:
            return 403, "profile 3 wants a client certificate"
        credentials = parse_basic(ws.headers.get("authorization"))
        if credentials is None:
            return 401, "no Basic auth credentials"
        username_ok = hmac.compare_digest(credentials[0].encode(), station_id.encode())
        # Every accepted secret is compared (no early exit), in constant time each.
        matches = [hmac.compare_digest(credentials[1], secret) for secret in policy.secrets_of(station_id)]
        password_ok = any(matches)
        if not (username_ok and password_ok):
            # Never say which part was wrong, nor log what was sent.
            return 401, "Basic auth credentials refused"
        return None

    async def _dispatch(self, station_id: str, output: CsmsOutput) -> None:
        """Send the frames (in order), keep what the events say, answer the waiting API calls."""
        for sid, frame in output.frames:
            ws = self._sockets.get(sid)
            if ws is not None:
                try:
                    await ws.send_text(frame)
                except (RuntimeError, WebSocketDisconnect, OSError):
                    self.log.warning("frame not sent: connection closed", station_id=sid)
        for event in output.events:
            self._note(event)
        for answer in output.answers:
            self._answered(answer)
        for reason in output.invalid:
            self.log.warning("invalid frame from station", station_id=station_id, reason=reason)
        for note in output.notes:
            # A note may say a message changed nothing (a repeat) or that it did (a transaction taken
            # up, ended by a version change): the same neutral text as the mock CPO's log.
            self.log.warning("csms note", station_id=station_id, note=note)
        self._watch(station_id)

    def _note(self, event: object) -> None:
        record = self.records.get(getattr(event, "station_id", ""))
        if record is None:
            return
        if isinstance(event, StationBooted):
            record.boots += 1
            self.log.info("station booted", station_id=record.station_id, boots=record.boots)
            if self.exercise and not record.exercised:
                record.exercised = True
                self._spawn(self._exercise(record.station_id))
        elif isinstance(event, UpkeepStatus):
            job: dict[str, Any] = {"status": event.status, "at": format_utc(event.at)}
            if event.request_id is not None:
                job["request_id"] = event.request_id
            if event.location:
                job["location"] = list(event.location)
            record.upkeep[event.job] = job
            self.log.info("upkeep status", station_id=record.station_id, job=event.job, **job)
        elif isinstance(event, DeviceModelReported):
            record.device_model.update(event.values)
        elif isinstance(event, ConnectorStatusChanged):
            record.connectors[event.connector_id] = event.status
        elif isinstance(event, TransactionStarted) and event.transaction_id in record.transactions:
            # A station reusing an ended transaction's id: the record of what happened stays.
            self.log.warning(
                "transaction started again: ignored",
                station_id=record.station_id,
                transaction_id=event.transaction_id,
            )
        elif isinstance(event, TransactionStarted):
            record.transactions[event.transaction_id] = {
                "transaction_id": event.transaction_id,
                "connector_id": event.connector_id,
                "token_uid": event.token_uid,
                "started_at": format_utc(event.at),
                "meter_start_wh": event.meter_start_wh,
                "meter_last_wh": event.meter_start_wh,
                "energy_wh": 0,
                "ended_at": None,
                "reason": None,
            }
            self.log.info(
                "transaction started", station_id=record.station_id, transaction_id=event.transaction_id
            )
        elif isinstance(event, MeterSampled | TransactionEnded):
            tx = record.transactions.get(event.transaction_id)
            if tx is None or tx["ended_at"] is not None:
                return  # an ended transaction's meter stop is final (the CSMS noted the late message)
            energy = event.energy_wh if isinstance(event, MeterSampled) else event.meter_stop_wh
            tx["meter_last_wh"], tx["energy_wh"] = energy, energy - tx["meter_start_wh"]
            if isinstance(event, TransactionEnded):
                tx["ended_at"], tx["reason"] = format_utc(event.at), event.reason
                self.log.info("transaction ended", station_id=record.station_id, **tx)

    # -- CSMS-initiated CALLs -------------------------------------------------------------------
    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], request_id: str
    ) -> CallAnswered:
        """Send a CALL and wait for its answer (or the timeout). LocalProtocolError: invalid payload."""
        lock = self._locks[station_id]
        async with lock:
            ref, output = self.csms.call(station_id, action, payload, wall_clock())
            future: asyncio.Future[CallAnswered] = asyncio.get_running_loop().create_future()
            self._waiting[ref] = (station_id, future)
            self.log.info("call queued", station_id=station_id, action=action, ref=ref, request_id=request_id)
            await self._dispatch(station_id, output)
        return await future

    def _answered(self, answer: CallAnswered) -> None:
        record = self.records.get(answer.station_id)
        entry = {
            "ref": answer.ref,
            "action": answer.action,
            "at": format_utc(answer.at),
            **({"result": answer.payload} if answer.error is None else {}),
            **({"error": {"code": answer.error, "description": answer.description}} if answer.error else {}),
        }
        if record is not None:
            record.calls.append(entry)
        self.log.info("call answered", station_id=answer.station_id, **entry)
        waiting = self._waiting.pop(answer.ref, None)
        if waiting is not None and not waiting[1].done():
            waiting[1].set_result(answer)

    def _watch(self, station_id: str) -> None:
        """Time out the CALL in flight to the station after `call_timeout_s` (OCPP-J: the CALL has
        timed out; the next one may go)."""
        since = self.csms.in_flight_since(station_id)
        if since is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(self.config.call_timeout_s, self._check_timeout, station_id, since)

    def _check_timeout(self, station_id: str, since: datetime) -> None:
        if self.csms.in_flight_since(station_id) == since:
            self._spawn(self._expire(station_id, since))

    async def _expire(self, station_id: str, since: datetime) -> None:
        async with self._locks[station_id]:
            if self.csms.in_flight_since(station_id) == since:
                await self._dispatch(station_id, self.csms.expire(station_id, wall_clock()))

    def _fail_waiting(self, station_id: str, error: str) -> None:
        for ref, (sid, future) in list(self._waiting.items()):
            if sid == station_id and not future.done():
                del self._waiting[ref]
                future.set_result(CallAnswered(ref, sid, "", None, error, "connection closed", wall_clock()))

    # -- --exercise ----------------------------------------------------------------------------------
    async def _exercise(self, station_id: str) -> None:
        record = self.records[station_id]
        log = self.log.bind(station_id=station_id, exercise=True)
        await asyncio.sleep(1)  # let the boot's status notifications through first
        results: dict[str, str] = {}
        for n, (action, build) in enumerate(STEPS[record.version]):
            if station_id not in self._sockets:
                log.warning("exercise stopped: station disconnected")
                return
            before = set(record.transactions)
            payload = build(Context(_last_transaction(record)))
            answer = await self.call(station_id, action, payload, request_id=f"exercise-{n}")
            results[f"{n:02d} {action}"] = _verdict(answer)
            if action in STARTS and answer.error is None:
                await _wait_for(lambda known=before: bool(set(record.transactions) - known), seconds=5)
        log.info("exercise done", results=results)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for ws in list(self._sockets.values()):
            await _close_quietly(ws, 1001)


def _last_transaction(record: StationRecord) -> str | None:
    running = [tx for tx in record.transactions.values() if tx["ended_at"] is None]
    return running[-1]["transaction_id"] if running else None


def _verdict(answer: CallAnswered) -> str:
    if answer.error is not None:
        return answer.error
    status = (answer.payload or {}).get("status")
    return str(status) if status is not None else "answered"


async def _wait_for(condition: Any, seconds: float) -> None:
    for _ in range(int(seconds * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)


async def _close_quietly(ws: WebSocket, code: int) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await ws.close(code=code)


def create_csms_app(service: CsmsService) -> FastAPI:
    app = FastAPI(title="emsp-bench mock CSMS", docs_url="/docs", openapi_url="/api/v1/openapi.json")
    token = service.config.api_token

    def authorize(header: str | None) -> None:
        # Constant time: the comparison must not tell an attacker how much of the token was right.
        if token is not None and not hmac.compare_digest((header or "").encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "wants Authorization: Bearer <api_token>")

    def record_of(station_id: str) -> StationRecord:
        record = service.records.get(station_id)
        if record is None:
            raise HTTPException(404, f"no station {station_id!r} has connected")
        return record

    @app.websocket("/ocpp/{station_id}")
    async def ocpp(ws: WebSocket, station_id: str) -> None:
        await service.connection(ws, station_id)

    @app.get("/api/v1/stations")
    async def stations(authorization: str | None = Header(None)) -> Response:
        authorize(authorization)
        return _json([r.summary() for _sid, r in sorted(service.records.items())])

    @app.get("/api/v1/stations/{station_id}")
    async def station(station_id: str, authorization: str | None = Header(None)) -> Response:
        authorize(authorization)
        return _json(record_of(station_id).detail())

    @app.post("/api/v1/stations/{station_id}/calls/{action}")
    async def send_call(
        station_id: str, action: str, request: Request, authorization: str | None = Header(None)
    ) -> Response:
        authorize(authorization)
        request_id = request.headers.get("x-request-id") or secrets.token_hex(8)
        headers = {"X-Request-ID": request_id}
        record = record_of(station_id)
        if not record.connected:
            raise HTTPException(409, f"station {station_id!r} is not connected")
        if action not in csms_initiated(record.version):
            # Known or not, a station would only refuse it; the codec would not stop a
            # station-initiated one (its schema is valid both ways).
            raise HTTPException(422, f"{action} is not a CSMS-initiated action of OCPP {record.version}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(413, f"a payload above {MAX_BODY} bytes")
        try:
            payload = json.loads(body, parse_float=Decimal) if body.strip() else {}
        except ValueError as exc:
            raise HTTPException(422, f"the body is not JSON: {exc}") from None
        except RecursionError:  # [[[...]]] deeper than the stack: the client's error, not a 500
            raise HTTPException(422, "the body is not JSON: nested too deeply") from None
        if not isinstance(payload, dict):
            raise HTTPException(422, "the payload must be a JSON object")
        try:
            answer = await service.call(station_id, action, payload, request_id)
        except LocalProtocolError as exc:
            raise HTTPException(422, f"not a valid OCPP {record.version} {action}: {exc}") from None
        content: dict[str, Any] = {"ref": answer.ref, "action": action}
        if answer.error == "Timeout":
            content["detail"] = f"no answer within {service.config.call_timeout_s} s"
            return _json(content, 504, headers)
        if answer.error == "Disconnected":
            content["detail"] = "the station disconnected before it answered"
            return _json(content, 502, headers)
        if answer.error is not None:
            content["error"] = {"code": answer.error, "description": answer.description}
        else:
            content["result"] = answer.payload
        return _json(content, 200, headers)

    return app


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # simplejson: OCPP numbers are Decimal here and go out exactly as they came in.
    body = simplejson.dumps(content, use_decimal=True, ensure_ascii=False)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


class TlsWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, plus the ASGI TLS extension's `client_cert_name` (the verified
    client certificate's CN) in the scope: profile 3 identifies the station by it, and uvicorn does not
    expose the peer certificate otherwise."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None: the handshake was refused before the app was called
            ssl_object = self.transport.get_extra_info("ssl_object")
            scope["extensions"]["tls"] = {"client_cert_name": peer_common_name(ssl_object)}


async def run_csms_service(
    service: CsmsService,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None] | None = None,
    tls_sock: socket.socket | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """Serve on a bound socket (ws://, http://) and, with `tls_sock` and `tls_context`, on a second one
    (wss://, https://: profiles 2 and 3), until cancelled (Ctrl-C)."""
    app = create_csms_app(service)
    servers = [_server(app, None)]
    listening = [sock]
    if tls_sock is not None and tls_context is not None:
        servers.append(_server(app, tls_context))
        listening.append(tls_sock)
    tasks = [
        asyncio.ensure_future(server.serve(sockets=[s])) for server, s in zip(servers, listening, strict=True)
    ]
    try:
        while not all(server.started for server in servers):
            for task in tasks:
                if task.done():
                    task.result()
                    return
            await asyncio.sleep(0.01)
        if on_ready is not None:
            on_ready()
        await asyncio.shield(asyncio.gather(*tasks))  # a cancellation (Ctrl-C) stops them gracefully below
    finally:
        await service.close()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)  # closes the listening sockets


def _server(app: FastAPI, tls_context: ssl.SSLContext | None) -> uvicorn.Server:
    tls: dict[str, Any] = {}
    if tls_context is not None:
        tls = {"ssl_context_factory": lambda _config, _default: tls_context}
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws=TlsWebSocketProtocol,
        ws_ping_interval=None,
        **tls,
    )
    return uvicorn.Server(config)

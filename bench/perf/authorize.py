"""Real-time authorization over real HTTP, against a bare FastAPI endpoint in the same run.

    python -m bench.perf.authorize [--database-url URL] [--requests N] [--tokens N]
                                   [--concurrency 1,16,64] [--inline]

Two servers, each a real uvicorn on loopback in its own process: the eMSP as `emsp-bench serve
emsp` serves it (the service app, core thread, outbox worker; a registered partner, `--tokens`
issued tokens, the service's structured logs to a file) and a bare FastAPI app whose endpoint reads
the body and returns a small JSON. For every concurrency, both are loaded in turn
(interleaved, so noise from neighbours hits both alike) with `--requests` POSTs over keep-alive
connections, and the table shows req/s, p50/p99 latency and the eMSP/bare ratio.

The load generator is a small asyncio HTTP/1.1 client in this process, never the servers' process;
with two or more CPUs the servers are pinned to one CPU and the generator to another
(sched_setaffinity), so each side has a core of its own. The CPU columns show whether a side was
saturated: the bare endpoint is the ceiling only if the generator's CPU is well below 100% there.

`--inline` serves the eMSP with its handler on the event loop (no core thread), for comparison.

Before the servers start, the core alone is timed in this process (no HTTP, calls batched as the
core thread runs them): CPU microseconds per authorization, a figure that other processes on the
machine disturb much less than the HTTP rates.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request  # at module level: the endpoint's annotations resolve here

TOKEN_A = "perf-token-a"
PARTNER = "cpo-perf"
BODY = json.dumps({"location_id": "LOC1", "evse_uids": ["EVSE1"]}).encode()
PATH = "/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID"
SERVER_CPU = 0


def _token_uid(i: int) -> str:
    return f"PERF{i:08d}"


# ---------------------------------------------------------------- servers (child processes)


def _pin(cpu: int) -> str:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {cpu})
        return f"CPU {cpu}"
    return "not pinned"


def _serve(app: Any, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run()


def _bare_app() -> Any:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/ocpi/2.2.1/tokens/{uid}/authorize")
    async def authorize(uid: str, request: Request) -> dict[str, Any]:
        await request.body()
        return {"data": {"allowed": "ALLOWED", "uid": uid}, "status_code": 1000}

    return app


def _answer_handshake(core: Any, deferred: Any, now: datetime) -> Any:
    """The eMSP fetches the CPO's versions and details before it answers: answer them in-process."""
    from emsp.wire import HttpResponse, dumps

    details = "http://127.0.0.1:9/cpo/2.2.1"  # the CPO's own: URLs under our base are refused
    data = {
        "versions": [{"version": "2.2.1", "url": details}],
        "2.2.1": {"version": "2.2.1", "endpoints": []},
    }
    while pending := core.pending_requests():
        for outbound in pending:
            body = {
                "data": data[outbound.request.url.rsplit("/", 1)[-1]],
                "status_code": 1000,
                "timestamp": "x",
            }
            core.on_response(outbound.request_id, HttpResponse(200, {}, dumps(body)), now)
    final = core.take_response(deferred.deferred_id)
    if final is None:
        raise SystemExit("registration failed: the eMSP did not answer its credentials POST")
    return final


def _emsp_core(database_url: str, base: str, tokens: int) -> tuple[Any, str]:
    """A core as `serve emsp` builds it (answers never wait for billing), with a registered partner
    and `tokens` issued tokens; the partner's token C."""
    from emsp.core import EmspCore, EmspSettings
    from emsp.services.tokens import TokenSpec, upsert_token
    from emsp.wire import HttpRequest, HttpResponse, dumps, loads

    core = EmspCore(EmspSettings(base_url=base, database_url=database_url, inline_drain=False))
    try:
        core.register_partner(PARTNER, TOKEN_A, parties=[("DE", "CPA", "CPO")])
    except TypeError:  # an eMSP from before operator-configured parties (a "before" measurement)
        core.register_partner(PARTNER, TOKEN_A)
    credentials = {
        "token": "perf-token-b",
        "url": "http://127.0.0.1:9/cpo/versions",  # answered in-process by _answer_handshake
        "roles": [
            {"role": "CPO", "business_details": {"name": "Perf CPO"}, "party_id": "CPA", "country_code": "DE"}
        ],
    }
    now = datetime.now(UTC)
    auth = {"Authorization": "Token " + base64.b64encode(TOKEN_A.encode()).decode()}
    answer = core.handle(HttpRequest("POST", f"{base}/2.2.1/credentials", auth, dumps(credentials)), now)
    resp = answer if isinstance(answer, HttpResponse) else _answer_handshake(core, answer, now)
    if resp.status != 200:
        raise SystemExit(f"registration failed: HTTP {resp.status} {resp.body}")
    core.pending_requests()
    token_c = str(loads(resp.body or "{}")["data"]["token"])
    with core.db.unit() as db:
        for i in range(tokens):
            upsert_token(db, TokenSpec(_token_uid(i), f"NL-EMS-C{i:08d}", issuer="perf"), now)
    return core, token_c


def _configure_logs(log_path: Path) -> Any:
    """The served eMSP's logs (emsp.observability), to `log_path`; what to close them with."""
    try:
        from emsp.observability import configure_service_logging
    except ImportError:  # an eMSP from before the service's buffered logs (a "before" measurement)
        from bench.logs import configure_run_logging

        handle = configure_run_logging(log_path)
        return handle.close if handle is not None else lambda: None
    file = log_path.open("w", encoding="utf-8")
    buffer = configure_service_logging(file)

    def close() -> None:
        buffer.close()
        file.close()

    return close


def _serve_emsp(args: argparse.Namespace) -> None:
    """The eMSP as `emsp-bench serve emsp` serves it (emsp.service.run.serve: the service app, the
    core thread, the outbox worker and the outbound pump), or with `--inline` its handler alone
    on the event loop."""
    port = args.port
    _configure_logs(Path(args.log))
    core, token_c = _emsp_core(args.database_url, f"http://127.0.0.1:{port}/ocpi", args.tokens)
    print(json.dumps({"ready": True, "token": token_c}), flush=True)
    if args.inline:
        from emsp.api import create_app

        _serve(create_app(core, lambda: datetime.now(UTC)), port)
        return
    from emsp.service.run import serve

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    asyncio.run(serve(core, "perf-admin-token", sock))


def _server_main(args: argparse.Namespace) -> None:
    _pin(SERVER_CPU)
    if args.serve == "bare":
        print(json.dumps({"ready": True, "token": "-"}), flush=True)
        _serve(_bare_app(), args.port)
    else:
        _serve_emsp(args)


# ---------------------------------------------------------------- the core alone (this process)


def core_microseconds(database_url: str, tokens: int, rounds: int = 30, batch: int = 16) -> list[float]:
    """CPU microseconds (this thread's) per authorization in the core alone, no HTTP: calls in
    batches as the core thread runs them (one database scope, then the batch's group commit).
    One figure per round of `tokens` authorizations, sorted: the low ones are the least disturbed
    by other processes on the machine."""
    from emsp.wire import HttpRequest

    base = "http://127.0.0.1:9/ocpi"
    core, token_c = _emsp_core(database_url, base, tokens)
    core.tokens.defer_records = True  # as emsp.api.core_thread sets it
    auth = "Token " + base64.b64encode(token_c.encode()).decode()
    headers = {"host": "127.0.0.1:9", "authorization": auth, "content-type": "application/json"}
    body = BODY.decode()
    requests = [
        HttpRequest("POST", "http://127.0.0.1:9" + PATH.format(uid=_token_uid(i)), headers, body)
        for i in range(tokens)
    ]

    allowed = '"allowed":"ALLOWED"'

    def run(at: datetime) -> None:
        for start in range(0, len(requests), batch):
            with core.db.scope():
                for request in requests[start : start + batch]:
                    answer = core.handle(request, at)
                    if getattr(answer, "status", None) != 200 or allowed not in (answer.body or ""):
                        raise SystemExit(f"in-process authorization failed: {answer}")
                core.commit_deferred()

    # Each round an hour after the one before: a token authorized in every round of one hour
    # would pass the fraud rate limit (6 an hour) from the 7th round on, and the rounds would time
    # refusals and their fraud_decisions writes instead of authorizations.
    first = datetime.now(UTC)
    run(first)  # warm-up: every token in the index, every driver's history
    figures = []
    for round_ in range(1, rounds + 1):
        start = time.thread_time()
        run(first + timedelta(hours=round_))
        figures.append((time.thread_time() - start) / len(requests) * 1e6)
    core.db.engine.dispose()
    return sorted(figures)


# ---------------------------------------------------------------- load generator (this process)


@dataclass
class Result:
    target: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu: float | None  # share of one core over the run
    loadgen_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _request_bytes(port: int, token: str, count: int) -> list[bytes]:
    auth = base64.b64encode(token.encode()).decode()
    head = (
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {auth}\r\n"
        "Content-Type: application/json\r\nContent-Length: {n}\r\n\r\n"
    )
    return [
        head.format(path=PATH.format(uid=_token_uid(i)), port=port, auth=auth, n=len(BODY)).encode() + BODY
        for i in range(count)
    ]


async def _connection(
    port: int, requests: list[bytes], todo: list[int], latencies: list[float], expect: bytes
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while todo:
            i = todo.pop()
            start = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            if not head.startswith(b"HTTP/1.1 200") or expect not in body:
                errors += 1
    finally:
        writer.close()
    return errors


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    port: int, requests: list[bytes], count: int, concurrency: int, expect: bytes
) -> tuple[float, list[float], int]:
    todo = list(range(count))
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await asyncio.gather(
        *(_connection(port, requests, todo, latencies, expect) for _ in range(concurrency))
    )
    return time.perf_counter() - start, latencies, sum(errors)


def run_load(
    target: str, server: subprocess.Popen[str], port: int, requests: list[bytes], count: int,
    concurrency: int, expect: bytes,
) -> Result:  # fmt: skip
    cpu0, own0 = _cpu_seconds(server.pid), time.process_time()
    seconds, latencies, errors = asyncio.run(_load(port, requests, count, concurrency, expect))
    cpu1, own1 = _cpu_seconds(server.pid), time.process_time()
    server_cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / seconds
    return Result(target, concurrency, count, seconds, latencies, errors, server_cpu, (own1 - own0) / seconds)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    kind: str, args: argparse.Namespace, database_url: str, log: Path
) -> tuple[subprocess.Popen[str], int, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.perf.authorize", "--serve", kind, "--port", str(port)]
    cmd += ["--database-url", database_url, "--tokens", str(args.tokens), "--log", str(log)]
    cmd += ["--inline"] if args.inline else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the {kind} server did not start (exit {proc.wait()})")
    token = json.loads(line)["token"]
    for _ in range(500):  # uvicorn binds after the ready line
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.01)
    return proc, port, token


def _fresh_database(url: str | None, tmp: Path) -> tuple[str, Any]:
    """The eMSP's database URL and a cleanup; PostgreSQL gets a schema of its own, dropped after."""
    if url is None or url.startswith("sqlite"):
        return url or f"sqlite:///{tmp / 'emsp.db'}", lambda: None
    import sqlalchemy

    schema = f"perf_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        engine.dispose()

    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def _count_records(url: str) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sqlalchemy.text("select count(*) from authorizations")).scalar_one()
    engine.dispose()
    return int(count)


def _row(r: Result) -> str:
    server = "-" if r.server_cpu is None else f"{r.server_cpu:.0%}"
    return (
        f"{r.target:<5} {r.concurrency:>4} {r.requests:>8} {r.rate:>9.0f} {r.pct(0.5):>8.2f} "
        f"{r.pct(0.99):>8.2f} {server:>7} {r.loadgen_cpu:>8.0%} {r.errors:>6}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.perf.authorize", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url", default=None, help="SQLite file (default: a temporary one) or PostgreSQL"
    )
    parser.add_argument("--requests", type=int, default=10_000, help="requests per target and concurrency")
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help="tokens issued (requests cycle through them); default 5000, or more when the requests "
        "would authorize a token more often than the fraud rate limit allows in an hour",
    )
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated connection counts")
    parser.add_argument(
        "--inline", action="store_true", help="eMSP handler on the event loop (no core thread)"
    )
    parser.add_argument("--serve", choices=["emsp", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _server_main(args)
        return 0
    levels = [int(c) for c in args.concurrency.split(",")]
    # Every token is authorized once in the warm-up, then once per cycle through the tokens; past
    # the fraud rate limit (per token and hour) the eMSP answers NOT_ALLOWED, and the run would
    # time refusals (and count them as errors).
    from emsp.services.fraud import FraudConfig

    per_hour = FraudConfig().max_authorizations_per_hour
    need = -(-args.requests * len(levels) // (per_hour - 1)) if per_hour > 1 else args.requests * len(levels)
    if args.tokens is None:
        args.tokens = max(5_000, need)
    elif args.tokens < need:
        parser.error(
            f"--tokens: {args.tokens} tokens for {args.requests} requests x {len(levels)} concurrency "
            f"levels authorize a token more than {per_hour} times (the fraud rate limit an hour); "
            f"use at least {need}"
        )
    with tempfile.TemporaryDirectory(prefix="perf-authorize-") as tmp:
        # The core alone first, on a database of its own, before the servers take the CPUs.
        (Path(tmp) / "core").mkdir()
        core_url, core_cleanup = _fresh_database(args.database_url, Path(tmp) / "core")
        import structlog

        saved = structlog.get_config()  # this process's logging is put back after (tests call main)
        close_logs = _configure_logs(Path(tmp) / "core" / "log.jsonl")  # logs are part of the cost
        try:
            core_us = core_microseconds(core_url, min(args.tokens, 1000))
        finally:
            close_logs()
            structlog.configure(**saved)
            core_cleanup()
        url, cleanup = _fresh_database(args.database_url, Path(tmp))
        servers: list[subprocess.Popen[str]] = []
        try:
            emsp, emsp_port, token = _start("emsp", args, url, Path(tmp) / "log.jsonl")
            bare, bare_port, _ = _start("bare", args, url, Path(tmp) / "bare.log")
            servers = [emsp, bare]
            pinned = _pin(1 - SERVER_CPU)
            emsp_requests = _request_bytes(emsp_port, token, args.tokens)
            bare_requests = _request_bytes(bare_port, "-", args.tokens)
            allowed = b'"allowed":"ALLOWED"'
            # Warm-up: every token read once (the index fills), both servers' code paths hot.
            run_load("emsp", emsp, emsp_port, emsp_requests, args.tokens, 16, allowed)
            run_load("bare", bare, bare_port, bare_requests, min(2000, args.requests), 16, allowed)
            sent = args.tokens
            backend = url.split(":", 1)[0]
            mode = "handler on the event loop" if args.inline else "core thread"
            print(f"eMSP on {backend} ({mode}), {args.tokens} tokens; servers on CPU {SERVER_CPU}, "
                  f"load generator {pinned}")  # fmt: skip
            print("target conc requests     req/s  p50 ms   p99 ms  server  loadgen errors")
            results: list[tuple[Result, Result]] = []
            for level in levels:
                b = run_load("bare", bare, bare_port, bare_requests, args.requests, level, allowed)
                print(_row(b), flush=True)
                e = run_load("emsp", emsp, emsp_port, emsp_requests, args.requests, level, allowed)
                print(_row(e), flush=True)
                sent += args.requests
                results.append((b, e))
            for b, e in results:
                print(f"concurrency {b.concurrency:>3}: eMSP/bare {e.rate / b.rate:.2f}x "
                      f"(p99 {e.pct(0.99):.1f} ms vs {b.pct(0.99):.1f} ms)")  # fmt: skip
            print(f"core alone, in-process: {core_us[0]:.0f} us CPU per authorize (best round), "
                  f"{core_us[len(core_us) // 2]:.0f} us median of {len(core_us)} rounds")  # fmt: skip
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
            stored = _count_records(url)
            print(f"authorization records stored: {stored} of {sent} answered")
            bad = sum(e.errors + b.errors for b, e in results)
            return 0 if bad == 0 and stored == sent else 1
        finally:
            for server in servers:
                if server.poll() is None:
                    server.kill()
            cleanup()


if __name__ == "__main__":
    sys.exit(main())

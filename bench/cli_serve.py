"""`emsp-bench serve emsp`: the eMSP as a long-running service (OCPI, /metrics, /api/v1); `serve csms`:
the mock CSMS for real chargers (bench/serve_csms.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from sqlalchemy.exc import SQLAlchemyError

serve_app = typer.Typer(help="Run a part of the bench as a long-running service.", no_args_is_help=True)


@serve_app.command("emsp")
def serve_emsp(
    config: Annotated[Path, typer.Option("--config", help="Service configuration (YAML).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")] = 8080,
    database_url: Annotated[
        str | None,
        typer.Option(help="eMSP storage (SQLAlchemy URL) [EMSP_DATABASE_URL, else ./emsp-service.db]."),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(help="Also publish the event stream to NATS JetStream (e.g. nats://127.0.0.1:4222)."),
    ] = None,
    bus_stream: Annotated[str, typer.Option(help="JetStream stream name (with --bus).")] = "EMSP_EVENTS",
    bus_subject_prefix: Annotated[
        str, typer.Option(help="Subject prefix of the events (with --bus).")
    ] = "emsp.events",
) -> None:
    """Serve the eMSP: OCPI under /ocpi/, /metrics, the contract API under /api/v1 (docs at /docs).
    Exit 2 on an invalid configuration, naming the file, field and reason."""
    from emsp.service.config import ConfigError, load_config
    from emsp.service.run import build_core, default_database_url, serve

    try:
        _check_bus(bus, bus_stream, bus_subject_prefix)
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    # Listen before the database is touched: a second instance on a taken port used to upsert its
    # config's partners into the first one's database (behind that process's caches), then exit 2.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:  # also a --host that does not resolve (gaierror)
        sock.close()
        reason = exc.strerror or str(exc)
        typer.echo(f"invalid input: --port: cannot listen on {host}:{port}: {reason}", err=True)
        raise typer.Exit(2) from exc
    url = database_url or cfg.database_url or default_database_url(Path.cwd())
    try:
        try:
            core = build_core(cfg, url, str(config))
        except SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(url, "--database-url", f"unusable: {reason}") from exc
    except ConfigError as exc:
        sock.close()
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    bound = sock.getsockname()[1]

    def ready() -> None:
        typer.echo(f"OCPI versions: {core.settings.base_url}/versions", err=False)
        typer.echo(f"listening on http://{host}:{bound} (contract API /api/v1, docs /docs, /metrics)")

    import sys

    from emsp.observability import configure_service_logging

    # JSON lines on stderr (stdout carries the two start-up lines), written off the request path.
    configure_service_logging(sys.stderr)
    try:
        asyncio.run(
            serve(
                core, cfg.admin_token, sock, on_ready=ready,
                bus_url=bus, bus_stream=bus_stream, bus_subject_prefix=bus_subject_prefix,
            )
        )  # fmt: skip
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        sock.close()


_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # JetStream names: no spaces, dots or wildcards
_SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def _check_bus(bus: str | None, stream: str, prefix: str) -> None:
    """Invalid bus options are invalid input (exit 2) before anything starts."""
    from emsp.service.config import ConfigError

    if bus is None:
        return
    if urlsplit(bus).scheme not in ("nats", "tls") or not urlsplit(bus).hostname:
        raise ConfigError("emsp-bench serve emsp", "--bus", f"must be a nats:// URL, not {bus!r}")
    if importlib.util.find_spec("nats") is None:
        raise ConfigError(
            "emsp-bench serve emsp", "--bus", "needs the NATS client: pip install 'emsp-bench[nats]'"
        )
    if not _STREAM_NAME.match(stream):
        raise ConfigError("emsp-bench serve emsp", "--bus-stream", f"not a stream name: {stream!r}")
    if not _SUBJECT_PREFIX.match(prefix):
        raise ConfigError("emsp-bench serve emsp", "--bus-subject-prefix", f"not a prefix: {prefix!r}")


@serve_app.command("csms")
def serve_csms(
    config: Annotated[
        Path | None, typer.Option("--config", help="Service configuration (YAML); defaults without.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")] = 9000,
    exercise: Annotated[
        bool, typer.Option("--exercise", help="Send each booted station every CSMS-initiated call once.")
    ] = False,
) -> None:
    """Serve the mock CSMS for real chargers: OCPP 1.6J / 2.0.1 (by subprotocol) at
    ws://HOST:PORT/ocpp/{station_id}, the control API under /api/v1/stations (docs at /docs).
    Exit 2 on an invalid configuration, naming the file, field and reason."""
    import sys

    import structlog

    from bench.serve_csms import CsmsService, run_csms_service
    from bench.serve_csms_config import CsmsConfigError, load_csms_config

    try:
        cfg = load_csms_config(config)
    except CsmsConfigError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        typer.echo(f"invalid input: --port: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from exc
    bound = sock.getsockname()[1]
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )

    def ready() -> None:
        typer.echo(f"OCPP: ws://{host}:{bound}/ocpp/{{station_id}} (subprotocols ocpp1.6, ocpp2.0.1)")
        typer.echo(f"control API: http://{host}:{bound}/api/v1/stations (docs /docs)", err=False)
        sys.stdout.flush()

    try:
        asyncio.run(run_csms_service(CsmsService(cfg, exercise=exercise), sock, on_ready=ready))
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        sock.close()

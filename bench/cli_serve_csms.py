"""`emsp-bench serve csms`: the mock CSMS for real chargers (bench/serve_csms.py), registered on
`serve_app` in cli_serve.py."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Annotated

import typer


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

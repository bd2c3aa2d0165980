"""`emsp-bench serve emsp`: the eMSP as a long-running service (OCPI, /metrics, /api/v1)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

serve_app = typer.Typer(help="Run a part of the bench as a long-running service.", no_args_is_help=True)


@serve_app.command("emsp")
def serve_emsp(
    config: Annotated[Path, typer.Option("--config", help="Service configuration (YAML).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8080,
    database_url: Annotated[
        str | None,
        typer.Option(help="eMSP storage (SQLAlchemy URL) [EMSP_DATABASE_URL, else ./emsp-service.db]."),
    ] = None,
) -> None:
    """Serve the eMSP: OCPI under /ocpi/, /metrics, the contract API under /api/v1 (docs at /docs).
    Exit 2 on an invalid configuration, naming the file, field and reason."""
    from emsp.service.config import ConfigError, load_config
    from emsp.service.run import build_core, default_database_url, serve

    try:
        cfg = load_config(config)
        url = database_url or cfg.database_url or default_database_url(Path.cwd())
        try:
            core = build_core(cfg, url, str(config))
        except SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(url, "--database-url", f"unusable: {reason}") from exc
    except ConfigError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        typer.echo(f"invalid input: --port: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    bound = sock.getsockname()[1]

    def ready() -> None:
        typer.echo(f"OCPI versions: {core.settings.base_url}/versions", err=False)
        typer.echo(f"listening on http://{host}:{bound} (contract API /api/v1, docs /docs, /metrics)")

    try:
        asyncio.run(serve(core, cfg.admin_token, sock, on_ready=ready))
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        sock.close()

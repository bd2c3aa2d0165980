"""`emsp-bench serve emsp`: the eMSP as a long-running service (OCPI, /metrics, /api/v1); `serve csms`:
the mock CSMS for real chargers (bench/serve_csms.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from bench.serve_csms_config import CsmsServiceConfig

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
    import sys

    import structlog

    from emsp.observability import configure_service_logging

    # JSON lines on stderr (stdout carries the two start-up lines), written off the request path;
    # configured before the core exists, whose logger is bound (and its output fixed) when it is built.
    saved = structlog.get_config()
    logs = configure_service_logging(sys.stderr)
    try:
        try:
            core = build_core(cfg, url, str(config))
        except (SQLAlchemyError, ImportError) as exc:  # ImportError: the URL's driver is not installed
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(url, "--database-url", f"unusable: {reason}") from exc
    except ConfigError as exc:
        sock.close()
        logs.close()
        structlog.configure(**saved)
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    bound = sock.getsockname()[1]

    def ready() -> None:
        typer.echo(f"OCPI versions: {core.settings.base_url}/versions", err=False)
        typer.echo(
            f"listening on http://{_url_host(host)}:{bound} (contract API /api/v1, docs /docs, /metrics)"
        )

    if core.db.schema_upgrades:  # a database an older version created (emsp.storage.schema)
        structlog.get_logger("emsp").info(
            "schema_upgraded", added_columns=core.db.schema_upgrades, database=_redacted(url)
        )
    try:
        asyncio.run(
            serve(
                core, cfg.admin_token, sock, on_ready=ready,
                bus_url=bus, bus_stream=bus_stream, bus_subject_prefix=bus_subject_prefix,
                metrics_token=cfg.metrics_token,
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


def _redacted(url: str) -> str:
    """A database URL fit for a log line: without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses (it would have failed to open already)
        return "<database>"


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
    security_profile: Annotated[
        int | None,
        typer.Option(
            min=0, max=3, help="Lowest OCPP security profile of any station [config security.profile]."
        ),
    ] = None,
    certs_dir: Annotated[
        Path | None,
        typer.Option(help="ca.pem, server.pem, server.key, <station>.pem/.key: read, made when missing."),
    ] = None,
    tls_port: Annotated[
        int, typer.Option(min=0, max=65535, help="wss:// port, with a certs dir (0: any free port).")
    ] = 9443,
) -> None:
    """Serve the mock CSMS for real chargers: OCPP 1.6J / 2.0.1 (by subprotocol) at
    ws://HOST:PORT/ocpp/{station_id}, the control API under /api/v1/stations (docs at /docs).
    Exit 2 on an invalid configuration, naming the file, field and reason."""
    import sys

    import structlog

    from bench.serve_csms import CsmsService, run_csms_service
    from bench.serve_csms_config import CsmsConfigError, load_csms_config, with_security_options

    try:
        cfg = with_security_options(
            load_csms_config(config),
            str(config or "environment"),
            profile=security_profile,
            certs_dir=certs_dir,
        )
        tls_context = _tls_context(cfg, host)
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
    tls_sock = None
    if tls_context is not None:
        tls_sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        tls_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tls_sock.bind((host, tls_port))
        except OSError as exc:
            sock.close()
            tls_sock.close()
            reason = exc.strerror or exc
            typer.echo(f"invalid input: --tls-port: cannot listen on {host}:{tls_port}: {reason}", err=True)
            raise typer.Exit(2) from exc
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
        shown = _url_host(host)
        typer.echo(f"OCPP: ws://{shown}:{bound}/ocpp/{{station_id}} (subprotocols ocpp1.6, ocpp2.0.1)")
        typer.echo(f"control API: http://{shown}:{bound}/api/v1/stations (docs /docs)", err=False)
        if tls_sock is not None:
            tls_bound = tls_sock.getsockname()[1]
            typer.echo(
                f"OCPP over TLS: wss://{shown}:{tls_bound}/ocpp/{{station_id}}"
                f" (certificates in {cfg.security.certs_dir})"
            )
        sys.stdout.flush()

    service = CsmsService(cfg, exercise=exercise)
    try:
        asyncio.run(
            run_csms_service(service, sock, on_ready=ready, tls_sock=tls_sock, tls_context=tls_context)
        )
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        sock.close()
        if tls_sock is not None:
            tls_sock.close()


def _url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address (`::1`) in brackets (RFC 3986 section 3.2.2)."""
    return f"[{host}]" if ":" in host else host


def _tls_context(cfg: CsmsServiceConfig, host: str) -> ssl.SSLContext | None:
    """With a certs dir: make the missing certificates (the server's for `host` too, and one per station
    of profile 3) and the server's TLS context; CsmsConfigError when the files cannot be made or read."""
    from bench.ocpp_security import ensure_certs, server_context
    from bench.serve_csms_config import CsmsConfigError

    security = cfg.security
    if security.certs_dir is None:
        return None
    if security.client_ca is not None and not security.client_ca.is_file():
        raise CsmsConfigError(str(security.client_ca), "security.client_ca", "no such file")
    try:
        files = ensure_certs(security.certs_dir, hosts=[host], stations=security.certificate_stations())
        return server_context(files, client_ca=security.client_ca or files.ca)
    except OSError as exc:
        where = str(exc.filename or security.certs_dir)
        raise CsmsConfigError(where, "certs_dir", exc.strerror or str(exc)) from None
    except (ValueError, ssl.SSLError) as exc:
        # A file there that is not a PEM certificate or key of ours (the message never holds key material).
        raise CsmsConfigError(str(security.certs_dir), "certs_dir", f"unusable: {exc}") from None

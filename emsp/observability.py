"""Structured logs and business metrics per partner (design principle 10).

Every `EmspCore` owns one `EmspMetrics` with its own `CollectorRegistry`: two cores in one process
(tests, multi-eMSP scenarios) never share counters.

A served eMSP logs JSON lines through a `LineBuffer` (`configure_service_logging`): a request only
appends its rendered lines to memory; a background thread writes and flushes them every
`FLUSH_INTERVAL_S` and at exit, so no request pays a write and a flush per line.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
from collections import deque
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# Settlement lag spans minutes (push) to days (batched CDRs).
_LAG_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600)


class EmspMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.authorizations = Counter(
            "emsp_authorizations", "Real-time authorizations answered, by result",
            ["partner", "result"], registry=self.registry,
        )  # fmt: skip
        self.sessions_started = Counter(
            "emsp_sessions_started", "Charging sessions first seen", ["partner"], registry=self.registry
        )
        self.cdrs_received = Counter(
            "emsp_cdrs_received", "Distinct CDRs received", ["partner"], registry=self.registry
        )
        self.settlement_lag = Histogram(
            "emsp_cdr_settlement_lag_seconds", "CDR received time minus session end",
            buckets=_LAG_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.findings = Counter(
            "emsp_partner_findings", "Partner behaviour the spec does not want, accepted and recorded",
            ["partner", "kind"], registry=self.registry,
        )  # fmt: skip
        self.ocpi_requests = Counter(
            "emsp_ocpi_requests", "OCPI requests served, by module and OCPI status code",
            ["partner", "module", "status_code"], registry=self.registry,
        )  # fmt: skip
        self.fraud_decisions = Counter(
            "emsp_fraud_decisions", "Fraud rules that fired: authorizations refused, CDRs flagged",
            ["partner", "rule", "decision"], registry=self.registry,
        )  # fmt: skip
        self.bus_handler_failures = Counter(
            "emsp_bus_handler_failures", "Bus handler attempts that failed (retried with backoff)",
            ["partner", "handler"], registry=self.registry,
        )  # fmt: skip
        self.token_pushes = Counter(
            "emsp_token_pushes", "Token push answers (taken, retry, refused), pushes dropped (partner gone)",
            ["partner", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.bus_dead_letters = Counter(
            "emsp_bus_dead_letters", "Events dead-lettered after their last attempt",
            ["partner", "kind"], registry=self.registry,
        )  # fmt: skip

        # Children of the two per-request counters, by label values: `.labels()` validates and
        # locks on every call, a dict lookup does not (children are never removed here).
        self._ocpi_children: dict[tuple[str, str, int], Any] = {}
        self._authorization_children: dict[tuple[str, str], Any] = {}

    def ocpi_request(self, partner: str, module: str, status_code: int) -> Any:
        """The `ocpi_requests` child of these labels (what `.labels(...)` gives, cached)."""
        key = (partner, module, status_code)
        child = self._ocpi_children.get(key)
        if child is None:
            child = self.ocpi_requests.labels(partner=partner, module=module, status_code=str(status_code))
            self._ocpi_children[key] = child
        return child

    def authorization(self, partner: str, result: str) -> Any:
        """The `authorizations` child of these labels (what `.labels(...)` gives, cached)."""
        key = (partner, result)
        child = self._authorization_children.get(key)
        if child is None:
            child = self.authorizations.labels(partner=partner, result=result)
            self._authorization_children[key] = child
        return child

    def text(self) -> str:
        # `*_created` samples carry the wall clock: dropped, so simulated runs stay byte-identical.
        lines = generate_latest(self.registry).decode("utf-8").splitlines(keepends=True)
        return "".join(line for line in lines if "_created" not in line)


def make_logger(**initial: Any) -> Any:
    """A structlog logger bound to this core; request handlers bind correlation ids on top."""
    return structlog.get_logger("emsp").bind(**initial)


FLUSH_INTERVAL_S = 0.05
MAX_BUFFERED_LINES = 100_000  # about 50 MB of typical lines: a stuck log pipe never exhausts memory


class LineBuffer:
    """A structlog logger (and its factory) whose lines a background thread writes to `file`.

    Lines keep their order (one deque, appended under the GIL, drained by one thread). Everything
    logged before `close()` (called at interpreter exit too) ends up in the file; a SIGKILL loses at
    most the last `interval` seconds of lines, never a committed record (logs are not records).
    The writer sleeps until a line comes, then waits `interval` to write many at once.

    Bounded: while `max_lines` wait (the file blocks, e.g. a full pipe nobody reads), further
    lines are dropped and counted (`dropped`); the next write says so in a `log_lines_dropped` line.
    """

    def __init__(
        self, file: IO[str], interval: float = FLUSH_INTERVAL_S, max_lines: int = MAX_BUFFERED_LINES
    ) -> None:
        self._file = file
        self._lines: deque[str] = deque()
        self._max_lines = max_lines
        self.dropped = 0  # lines dropped since the start
        self._reported = 0  # of which a `log_lines_dropped` line has told
        self._drop_lock = threading.Lock()
        self._stop = threading.Event()
        self._has_lines = threading.Event()
        self._write_lock = threading.Lock()  # the writer thread and close() never write at once
        self._thread = threading.Thread(target=self._run, args=(interval,), name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def __call__(self, *_args: Any) -> LineBuffer:
        return self  # as structlog's logger_factory: every logger shares this buffer

    def msg(self, message: str) -> None:
        if len(self._lines) >= self._max_lines:
            with self._drop_lock:
                self.dropped += 1
            return
        self._lines.append(message)
        if not self._has_lines.is_set():  # an attribute read on the hot path; set once per write
            self._has_lines.set()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def flush(self) -> None:
        """Write and flush every line logged so far."""
        with self._write_lock:
            lines = self._lines
            chunk: list[str] = []
            while lines:
                chunk.append(lines.popleft())
            with self._drop_lock:
                dropped, self._reported = self.dropped - self._reported, self.dropped
            if dropped:
                notice = {"event": "log_lines_dropped", "level": "warning", "dropped": dropped}
                chunk.append(_render_json({**notice, "max_buffered_lines": self._max_lines}))
            if chunk:
                self._file.write("\n".join(chunk) + "\n")
                self._file.flush()

    def close(self) -> None:
        """Stop the writer thread and write what is left (the file stays open: it is the caller's)."""
        atexit.unregister(self.close)
        self._stop.set()
        self._has_lines.set()  # wake the writer so it sees the stop
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if not self._file.closed:
            self.flush()

    def _run(self, interval: float) -> None:
        while True:
            self._has_lines.wait()
            if self._stop.wait(interval):
                return  # close() writes what is left
            self._has_lines.clear()  # before the write: a line logged meanwhile sets it again
            if self._stop.is_set():
                # close() came between the timed wait and the clear: its wake-up was just cleared,
                # so waiting again would never return (and close() would wait on us for ever).
                return
            try:
                self.flush()
            except (OSError, ValueError):  # the file went away (a closed pipe): keep serving
                continue


def _fallback(value: Any) -> Any:
    return repr(value)  # a value JSON cannot hold is logged as its repr, never dropped


# The text structlog's JSONRenderer(sort_keys=True) gives, from an encoder built once (json.dumps
# with options builds one per line).
_render_json = json.JSONEncoder(sort_keys=True, default=_fallback).encode


def render_json(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
    return _render_json(event)


def configure_service_logging(file: IO[str], level: int = logging.INFO) -> LineBuffer:
    """JSON lines to `file` through a `LineBuffer` (sorted keys, level, exceptions formatted).

    Correlation ids are bound on the loggers (`log.bind`), not in context variables: nothing to
    merge from them."""
    buffer = LineBuffer(file)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            render_json,
        ],
        logger_factory=buffer,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    return buffer

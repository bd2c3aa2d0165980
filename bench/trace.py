"""The run's wire trace: one JSON object per message crossing a boundary (design: Contracts).

Bodies are embedded as the exact JSON text that crossed the wire, so the trace shows what a
partner really sent (including any quirk), not a re-serialisation of it.

Modes: `full` writes every crossing, `ocpi` only the OCPI ones (the OCPP frames, by far the most
lines, are left out), `off` writes no file. Counting never depends on the mode: `counts` (the
summary's `messages.<proto>`) is the same whatever is written. A path ending in `.gz` is gzip,
written deterministically (no file name, mtime 0) so a seed still gives byte-identical files.
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, get_args

import simplejson

from emsp.json_text import written_compact
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse
from reports.load import TRACE_FILE, TRACE_FILE_GZIP, TRACE_FILES

__all__ = ["TRACE_FILES", "TRACE_MODES", "TraceMode", "WireTrace", "trace_path"]

TraceMode = Literal["full", "ocpi", "off"]
TRACE_MODES: tuple[str, ...] = get_args(TraceMode)

# emsp.wire.dumps's settings in one encoder built once: simplejson.dumps with non-default arguments
# builds a new encoder per call (the largest part of the trace's cost). Same settings, same bytes.
_encode = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False).encode
# What that encoder does with a str (its C escaping), without the dispatch: most of a line is strings.
_string = simplejson.encoder.encode_basestring
_FLUSH_LINES = 2048  # lines joined into one write: fewer, larger writes (and gzip calls)
_GZIP_LEVEL = 6  # zlib's default: most of level 9's ratio at a fraction of its CPU


def trace_path(run_dir: Path, mode: TraceMode, compress: bool) -> Path | None:
    """Where a run with these options writes its trace (None: it writes none)."""
    if mode == "off":
        return None
    return run_dir / (TRACE_FILE_GZIP if compress else TRACE_FILE)


def _embed(body: str | None) -> str:
    if body is None or body == "":
        return "null"
    if written_compact(body):  # our encoders wrote it (a mock CPO's body, an eMSP envelope): as is
        return body
    try:
        simplejson.loads(body)
    except ValueError:
        return _encode(body)  # not JSON: keep it, as a string
    body = body.strip()
    # Valid JSON holds raw line breaks only as whitespace between tokens (never inside a string):
    # a pretty-printed body becomes one line with the same meaning, keeping one message per line.
    if "\n" in body or "\r" in body:
        body = body.replace("\r", " ").replace("\n", " ")
    return body


def _time(t: datetime) -> str:
    """format_utc(t) as a JSON string (its text is digits and -:.TZ: nothing to escape). An instant
    the run formatted already (a message's own timestamp, the envelope's) comes from its memo."""
    return f'"{format_utc(t)}"'


def _headers(headers: dict[str, str]) -> str:
    try:  # a flat object of strings, as _encode writes it (separators "," and ":")
        return "{" + ",".join([f"{_string(k)}:{_string(v)}" for k, v in headers.items()]) + "}"
    except TypeError:  # a value that is not a string: let the encoder write it
        return _encode(headers)


def _status(status: int) -> str:
    return str(status) if type(status) is int else _encode(status)


def _open(path: Path) -> IO[str]:
    if path.suffix != ".gz":
        return path.open("w", encoding="utf-8")
    raw = path.open("wb")
    # filename="" and mtime=0: the header carries neither name nor time, so it is reproducible.
    packed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0)
    return _GzipText(packed, raw)


class _GzipText(io.TextIOWrapper):
    """Text over a GzipFile that also closes the file under it (GzipFile leaves a given fileobj open)."""

    def __init__(self, packed: gzip.GzipFile, raw: IO[bytes]) -> None:
        super().__init__(packed, encoding="utf-8", newline="\n")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class WireTrace:
    """Writes trace lines to a file (or nowhere) and counts messages per protocol."""

    def __init__(self, path: Path | None, mode: TraceMode = "full") -> None:
        if mode not in TRACE_MODES:
            raise ValueError(f"trace mode must be one of {', '.join(TRACE_MODES)}, not {mode!r}")
        self.mode: TraceMode = mode
        self.path = path if mode != "off" else None
        self._file: IO[str] | None = _open(self.path) if self.path is not None else None
        self._ocpp = self._file is not None and mode == "full"
        self._ocpi = self._file is not None
        self.counts: Counter[str] = Counter()
        self._lines: list[str] = []
        # '"proto":..,"src":..,"dst":..' per crossing: a handful of distinct ones, each encoded once.
        self._route: dict[tuple[str, str, str], str] = {}
        self._last_t: datetime | None = None
        self._last_ts = ""

    def _head(self, t: datetime, proto: str, src: str, dst: str) -> str:
        # Byte for byte what dumps({"t":..,"proto":..,"src":..,"dst":..}) gave, minus the closing brace.
        if t != self._last_t:
            self._last_t, self._last_ts = t, _time(t)
        route = self._route.get((proto, src, dst)) or self._new_route(proto, src, dst)
        return f'{{"t":{self._last_ts},{route}'

    def _new_route(self, proto: str, src: str, dst: str) -> str:
        route = f'"proto":{_string(proto)},"src":{_string(src)},"dst":{_string(dst)}'
        self._route[(proto, src, dst)] = route
        return route

    def _append(self, line: str) -> None:
        lines = self._lines
        lines.append(line)
        if len(lines) >= _FLUSH_LINES:
            self._flush()

    def _flush(self) -> None:
        if self._file is not None and self._lines:
            self._file.write("".join(self._lines))
        self._lines.clear()

    def ocpp(self, t: datetime, proto: str, src: str, dst: str, frame: str) -> None:
        self.counts[proto] += 1
        if self._ocpp:  # _head and _append inlined: this runs for every OCPP frame (most lines)
            if t != self._last_t:
                self._last_t, self._last_ts = t, _time(t)
            route = self._route.get((proto, src, dst)) or self._new_route(proto, src, dst)
            lines = self._lines
            lines.append(f'{{"t":{self._last_ts},{route},"frame":{_string(frame)}}}\n')
            if len(lines) >= _FLUSH_LINES:
                self._flush()

    def ocpi_request(self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest) -> None:
        self.counts[proto] += 1
        if self._ocpi:
            self._append(
                f'{self._head(t, proto, src, dst)},"kind":"request","method":{_string(request.method)},'
                f'"url":{_string(request.url)},"headers":{_headers(request.headers)},'
                f'"body":{_embed(request.body)}}}\n'
            )

    def ocpi_response(
        self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest, response: HttpResponse
    ) -> None:
        self.counts[proto] += 1
        if self._ocpi:
            self._append(
                f'{self._head(t, proto, src, dst)},"kind":"response","method":{_string(request.method)},'
                f'"url":{_string(request.url)},"headers":{_headers(response.headers)},'
                f'"status":{_status(response.status)},"body":{_embed(response.body)}}}\n'
            )

    def close(self) -> None:
        if self._file is not None:
            try:
                self._flush()
            finally:
                self._file.close()
                self._file = None

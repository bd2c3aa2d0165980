"""The run's wire trace: one JSON object per message crossing a boundary (design: Contracts).

Bodies are embedded as the exact JSON text that crossed the wire, so the trace shows what a
partner really sent (including any quirk), not a re-serialisation of it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import IO

import simplejson

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps


def _embed(body: str | None) -> str:
    if body is None or body == "":
        return "null"
    try:
        simplejson.loads(body)
    except ValueError:
        return dumps(body)  # not JSON: keep it, as a string
    return body.strip()


class WireTrace:
    """Appends trace lines to a file (or nowhere) and counts messages per protocol."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self.counts: Counter[str] = Counter()

    def _write(self, head: dict[str, object], body: str | None = None, body_key: str = "body") -> None:
        proto = str(head["proto"])
        self.counts[proto] += 1
        if self._file is None:
            return
        line = dumps(head)
        if body_key == "frame":
            line = f'{line[:-1]},"frame":{dumps(body)}}}'
        else:
            line = f'{line[:-1]},"body":{_embed(body)}}}'
        self._file.write(line + "\n")

    def ocpp(self, t: datetime, proto: str, src: str, dst: str, frame: str) -> None:
        self._write({"t": format_utc(t), "proto": proto, "src": src, "dst": dst}, frame, "frame")

    def ocpi_request(self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest) -> None:
        head: dict[str, object] = {
            "t": format_utc(t),
            "proto": proto,
            "src": src,
            "dst": dst,
            "kind": "request",
            "method": request.method,
            "url": request.url,
            "headers": request.headers,
        }
        self._write(head, request.body)

    def ocpi_response(
        self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest, response: HttpResponse
    ) -> None:
        head: dict[str, object] = {
            "t": format_utc(t),
            "proto": proto,
            "src": src,
            "dst": dst,
            "kind": "response",
            "method": request.method,
            "url": request.url,
            "headers": response.headers,
            "status": response.status,
        }
        self._write(head, response.body)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

"""What the contract API answers before or instead of an endpoint: body limit, validation errors,
and the error responses every operation documents in the OpenAPI document.

- A body above the limit is refused with 413 while it streams in (never held in memory whole).
- A 422 names each invalid field (`loc`, `msg`, `type`) but never echoes the input: it may be
  megabytes, a secret (a partner's token A), or a lone surrogate that cannot be encoded as JSON
  (which made the framework's own answer a 500).
- Every error is `{"detail": <text or list of field errors>}`, and the OpenAPI document says so
  for 400, 401, 413 and 422 on every operation (client generators and schemathesis read it).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    detail: str | list[FieldError]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("the body is not JSON (or not UTF-8)"),
    401: _error("missing or wrong bearer token"),
    413: _error("request body too large"),
    422: _error("invalid input: the fields and why"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("no such object")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _error("already exists")}


def _text(value: Any) -> str:
    # A lone surrogate (from a JSON \ud800 escape) cannot be UTF-8: keep it visible as an escape.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [p if isinstance(p, int) else _text(p) for p in e.get("loc", ())],
            "msg": _text(e.get("msg", "")),
            "type": _text(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


class BodyLimit:
    """413 for a request body above `max_bytes` (declared or streamed), before the endpoint runs."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:  # read it all first: the endpoint must never see a body cut at the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect as usual
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the upload is not read
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

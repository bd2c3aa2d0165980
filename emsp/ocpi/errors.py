"""OCPI errors as exceptions carrying their OCPI status code and the HTTP status paired with it.

Pairing (OCPI 2.2.1 status_codes + transport_and_format):
- invalid JSON -> HTTP 400 (a MUST). Every other 2001/2002 (missing or ill-typed fields, id
  mismatch) reached the OCPI layer: status_codes says a syntactically valid request to an existing
  resource MUST NOT get an HTTP error, so those answer HTTP 200 with the OCPI status code.
- unknown object on GET -> HTTP 404 (status_codes); unknown token on authorize -> 404 + 2004 (tokens).
- missing/unknown credentials token, or token A outside versions/credentials -> HTTP 401.
- credentials POST when registered / PUT, DELETE when not -> HTTP 405 (credentials).
- 3001/3002/3003 (a registration that could not use the client's API): the POST or PUT reached the
  OCPI layer, so HTTP 200 with the OCPI code; an HTTP 502 there also invited proxies and load
  balancers to replace the envelope with their own error page.
- partner queue full -> 3000 with HTTP 503: transient, the client may retry; nothing was stored.
"""

from __future__ import annotations

HTTP_STATUS: dict[int, int] = {
    2000: 400,
    2001: 200,
    2002: 200,
    2003: 404,
    2004: 404,
    3000: 503,
    3001: 200,
    3002: 200,
    3003: 200,
}


class OcpiError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        http_status: int | None = None,
        headers: dict[str, str] | None = None,
        commit: bool = False,
    ) -> None:
        super().__init__(message)
        self.commit = commit  # keep the request's side effects (e.g. a recorded duplicate) anyway
        self.status_code = status_code
        self.message = message
        self.http_status = http_status if http_status is not None else HTTP_STATUS.get(status_code, 400)
        self.headers = headers or {}


def invalid(message: str) -> OcpiError:
    return OcpiError(2001, message)


def not_found(message: str, status_code: int = 2001) -> OcpiError:
    return OcpiError(status_code, message, http_status=404)


def unauthorized(message: str) -> OcpiError:
    return OcpiError(2000, message, http_status=401, headers={"WWW-Authenticate": "Token"})


def method_not_allowed(message: str, allowed: list[str]) -> OcpiError:
    return OcpiError(2000, message, http_status=405, headers={"Allow": ", ".join(allowed)})


def busy(message: str) -> OcpiError:
    return OcpiError(3000, message, http_status=503, headers={"Retry-After": "1"})

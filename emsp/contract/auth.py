"""Bearer authentication of the contract API with the operator's admin token."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

BearerCheck = Callable[[HTTPAuthorizationCredentials | None], Awaitable[None]]

# auto_error=False: we answer 401 ourselves (HTTPBearer's own answer differs across FastAPI versions);
# declaring the scheme still gives the OpenAPI document its "Authorize" button.
_scheme = HTTPBearer(auto_error=False, description="The operator's admin token")


def bearer_auth(admin_token: str) -> BearerCheck:
    """A dependency answering 401 unless the request carries `Authorization: Bearer <admin token>`."""
    expected = admin_token.encode("utf-8")

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)]) -> None:
        given = credentials.credentials.encode("utf-8") if credentials is not None else b""
        # compare_digest: a near miss takes as long to refuse as a wild guess.
        if not given or not secrets.compare_digest(given, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check

"""The contract routers of drivers, tokens, sessions, CDRs, invoice lines and quotes, in one call."""

from __future__ import annotations

from fastapi import APIRouter

from emsp.contract import cdrs, invoices, quotes, sessions, tokens
from emsp.contract.common import Clock
from emsp.core import EmspCore


def include_routers(parent: APIRouter, core: EmspCore, clock: Clock) -> None:
    """Mount them on `parent` (the `/api/v1` app or router, which adds the admin-token check)."""
    parent.include_router(tokens.make_router(core, clock))
    parent.include_router(sessions.make_router(core))
    parent.include_router(cdrs.make_router(core))
    parent.include_router(invoices.make_router(core))
    parent.include_router(quotes.make_router(core, clock))

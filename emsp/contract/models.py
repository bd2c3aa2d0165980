"""Contract models of `/api/v1`: pydantic, independent of the OCPI wire models and the storage rows.

They change only with the contract's version, never because a partner's OCPI version or a table does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    detail: str | None = None

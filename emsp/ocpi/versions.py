"""The version registry: OCPI version string -> its adapter, and the versions module we serve.

The only place besides the version packages that imports them (a test checks the import graph).
A partner's adapter is chosen once, at the credentials handshake, and stored as `PartnerRow.version`.
"""

from __future__ import annotations

from typing import Any

from emsp.ocpi.adapter import VersionAdapter
from emsp.ocpi.v211 import ADAPTER as V211
from emsp.ocpi.v221 import ADAPTER as V221
from emsp.ocpi.v230 import ADAPTER as V230

ADAPTERS: dict[str, VersionAdapter] = {a.version: a for a in (V211, V221, V230)}
# Oldest first; a registration we start picks the last one the partner also offers.
ORDER: tuple[str, ...] = ("2.1.1", "2.2.1", "2.3.0")
DEFAULT = "2.2.1"  # a partner not registered yet (its stored version is unknown)


def adapter_for(version: str | None) -> VersionAdapter:
    """The adapter of a stored partner version (a partner registered before versions were stored: 2.2.1)."""
    return ADAPTERS.get(version or DEFAULT, ADAPTERS[DEFAULT])


def highest_common(offered: list[str]) -> str | None:
    return next((v for v in reversed(ORDER) if v in offered), None)


def versions_list(base_url: str) -> list[dict[str, Any]]:
    root = base_url.rstrip("/")
    return [{"version": v, "url": f"{root}/{v}"} for v in ORDER]


def version_details(base_url: str, version: str) -> dict[str, Any]:
    root = f"{base_url.rstrip('/')}/{version}"
    adapter = ADAPTERS[version]
    endpoints: list[dict[str, Any]] = []
    for identifier, role in adapter.endpoints:
        entry: dict[str, Any] = {"identifier": identifier}
        if adapter.endpoint_roles:
            # 2.2.1/2.3.0 Endpoint class: role is required, even where it has no function (credentials).
            entry["role"] = role or "RECEIVER"
        entry["url"] = f"{root}/{identifier}"
        endpoints.append(entry)
    return {"version": version, "endpoints": endpoints}

"""Versions module (version_information_endpoint): the versions list and the 2.2.1 details."""

from __future__ import annotations

from typing import Any

VERSION = "2.2.1"

# (module identifier, interface role) for the eMSP role in 2.2.1; credentials has no role.
ENDPOINTS: tuple[tuple[str, str | None], ...] = (
    ("credentials", None),
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
)


def versions_list(base_url: str) -> list[dict[str, Any]]:
    return [{"version": VERSION, "url": f"{base_url.rstrip('/')}/{VERSION}"}]


def version_details(base_url: str) -> dict[str, Any]:
    root = f"{base_url.rstrip('/')}/{VERSION}"
    endpoints: list[dict[str, Any]] = []
    for identifier, role in ENDPOINTS:
        entry: dict[str, Any] = {"identifier": identifier}
        # The role is required by the Endpoint class even where it has no function (credentials).
        entry["role"] = role or "RECEIVER"
        entry["url"] = f"{root}/{identifier}"
        endpoints.append(entry)
    return {"version": VERSION, "endpoints": endpoints}

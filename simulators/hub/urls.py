"""The hub's URLs, and the mapping between a party's endpoint URLs and the hub's.

Every routed module has a Sender and a Receiver endpoint at the hub,
`{base}/2.2.1/{module}/{sender|receiver}`; what follows it (object ids, query) is passed on to the
same interface of the receiving party. A party URL coming back (a `Link` to the next page, a CDR's
`Location`, a command's `response_url`) is mapped to the hub's equivalent, so the next call comes
through the hub again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from simulators.hub.envelope import VERSION
from simulators.hub.persona import ROUTED_MODULES
from simulators.hub.registry import Connection

INTERFACES = ("SENDER", "RECEIVER")
_LINK_URL = re.compile(r"<([^>]*)>")


@dataclass(frozen=True, slots=True)
class Target:
    """What a request to one of the hub's routed endpoints addresses."""

    module: str
    interface: str  # SENDER or RECEIVER: the interface of the receiving party that is called
    suffix: str  # path after the endpoint, e.g. "/NL/CPO/LOC1" or "" (list)
    query: str


class HubUrls:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self._base_path = urlsplit(self.base).path.rstrip("/")

    @property
    def versions(self) -> str:
        return f"{self.base}/versions"

    @property
    def details(self) -> str:
        return f"{self.base}/{VERSION}"

    def endpoint(self, module: str, interface: str | None = None) -> str:
        if interface is None:
            return f"{self.details}/{module}"
        return f"{self.details}/{module}/{interface.lower()}"

    def own_endpoints(self) -> list[dict[str, str]]:
        """The hub's version details (version_information_endpoint, 2.2.1 endpoints)."""
        out = [
            {"identifier": "credentials", "role": role, "url": self.endpoint("credentials")}
            for role in INTERFACES
        ]
        out.append({"identifier": "hubclientinfo", "role": "SENDER", "url": self.endpoint("hubclientinfo")})
        for module in ROUTED_MODULES:
            out += [
                {"identifier": module, "role": role, "url": self.endpoint(module, role)}
                for role in INTERFACES
            ]
        return out

    def relative(self, path: str) -> str | None:
        """The path below the hub's base ("/versions", "/2.2.1/tokens/receiver/..."), or None."""
        path = path.rstrip("/")
        if path != self._base_path and not path.startswith(self._base_path + "/"):
            return None
        return path[len(self._base_path) :]

    @staticmethod
    def target(relative: str, query: str) -> Target | None:
        parts = relative.split("/", 4)  # "", version, module, interface, rest
        if len(parts) < 4 or parts[1] != VERSION or parts[2] not in ROUTED_MODULES:
            return None
        if parts[3].upper() not in INTERFACES:
            return None
        suffix = "/" + parts[4] if len(parts) == 5 else ""
        return Target(parts[2], parts[3].upper(), suffix, query)

    @staticmethod
    def at_party(receiver: Connection, target: Target) -> str | None:
        base = receiver.endpoint(target.module, target.interface)
        if base is None:
            return None
        return base.rstrip("/") + target.suffix + (f"?{target.query}" if target.query else "")

    def from_party(self, owner: Connection, url: str) -> str:
        """A URL of one of `owner`'s endpoints as the same place at the hub (unchanged otherwise)."""
        best: tuple[int, str] | None = None
        for (module, interface), endpoint in owner.endpoints.items():
            base = endpoint.rstrip("/")
            rest = url[len(base) :]
            if (
                url.startswith(base)
                and (rest == "" or rest[0] in "/?")
                and (best is None or len(base) > best[0])
            ):
                best = (len(base), self.endpoint(module, interface) + rest)
        return url if best is None else best[1]

    def link_header(self, owner: Connection, value: str) -> str:
        """A pagination `Link` header (transport_and_format, Paginated Response) pointing at the hub."""
        return _LINK_URL.sub(lambda match: f"<{self.from_party(owner, match.group(1))}>", value)

"""The hub's connected parties: one Connection per platform, speaking for one or more parties.

The hub operator configures each connection (which parties it may speak for, the token A it gets
or the versions URL and token A to register toward it); the credentials handshake fills in the
rest. A party's credentials never widen what the operator configured (DESIGN, contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from simulators.hub.envelope import Party, party


class Status(StrEnum):
    """mod_hub_client_info, ConnectionStatus."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


@dataclass(frozen=True, slots=True)
class PartyRole:
    country_code: str
    party_id: str
    role: str  # CPO, EMSP, NSP, OTHER (types, Role)

    @property
    def key(self) -> Party:
        return party(self.country_code, self.party_id)


@dataclass(slots=True)
class Connection:
    id: str
    allowed: tuple[PartyRole, ...]  # what the operator lets this connection speak for
    token_a: str | None = None  # inbound registration: the token A we handed out
    versions_url: str | None = None  # its versions endpoint (configured, or from its credentials)
    token_in: str | None = None  # what it authenticates with at the hub once registered (C or B)
    token_out: str | None = None  # what the hub authenticates with at it (A, then B or C)
    roles: tuple[PartyRole, ...] = ()  # from its credentials, within `allowed`
    endpoints: dict[tuple[str, str], str] = field(default_factory=dict)  # (module, ROLE) -> URL
    registered: bool = False  # the credentials handshake completed (token A no longer accepted)
    status: Status = Status.PLANNED

    def speaks_for(self, key: Party) -> bool:
        return any(role.key == key for role in self.roles)

    def endpoint(self, module: str, interface: str) -> str | None:
        return self.endpoints.get((module, interface))


class Registry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}  # insertion order: configuration order

    def add(self, connection: Connection) -> None:
        if connection.id in self._connections:
            raise ValueError(f"hub connection {connection.id!r} is configured twice")
        for other in self._connections.values():
            clash = {r.key for r in other.allowed} & {r.key for r in connection.allowed}
            if clash:
                raise ValueError(
                    f"hub connections {other.id!r} and {connection.id!r} both claim {sorted(clash)}"
                )
        self._connections[connection.id] = connection

    def __getitem__(self, connection_id: str) -> Connection:
        return self._connections[connection_id]

    def all(self) -> list[Connection]:
        return list(self._connections.values())

    def by_token(self, token: str) -> tuple[Connection, bool] | None:
        """The connection a credentials token belongs to, and whether that token opens registration
        only: token A, or the token B the hub offered while its own registration is under way."""
        for connection in self._connections.values():
            if connection.token_in is not None and token == connection.token_in:
                return connection, not connection.registered
            if connection.token_a is not None and token == connection.token_a and not connection.registered:
                return connection, True
        return None

    def owner_of(self, key: Party) -> Connection | None:
        """The connection configured for a party (registered or not)."""
        for connection in self._connections.values():
            if any(role.key == key for role in connection.allowed):
                return connection
        return None

    def role_of(self, key: Party) -> PartyRole | None:
        for connection in self._connections.values():
            for role in connection.roles or connection.allowed:
                if role.key == key:
                    return role
        return None

"""The eMSP-role modules, version-agnostic: each reads and writes through `ctx.adapter`."""

from __future__ import annotations

from collections.abc import Callable

from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult, Pending
from emsp.ocpi.modules import cdrs, commands, credentials, hubclientinfo, locations, sessions, tariffs, tokens

HANDLERS: dict[str, Callable[[Ctx], OcpiResult | Pending]] = {
    "credentials": credentials.handle,
    "locations": locations.handle,
    "tariffs": tariffs.handle,
    "sessions": sessions.handle,
    "cdrs": cdrs.handle,
    "tokens": tokens.handle,
    "hubclientinfo": hubclientinfo.handle,
    "commands": commands.handle,
}

# Configuration modules, never routed: "Credentials, Versions and Hub Client Info are not to be
# routed ... routing headers SHALL NOT be used with these modules" (2.2.1/2.3.0 transport_and_format,
# message routing headers; mod_hub_client_info: "Type: Configuration Module"). Versions are routed apart.
CONFIGURATION_MODULES = frozenset({"credentials", "hubclientinfo"})
# Of them, what a token A opens besides the versions (transport_and_format, authorization): credentials.
REGISTRATION_MODULES = frozenset({"credentials"})

# The functional modules of ours only a CPO uses (2.2.1 mod_locations, mod_tariffs, mod_sessions,
# mod_cdrs: the CPO is Sender, we Receiver; mod_tokens: we are Sender, the CPO Receiver; mod_commands:
# the CPO answers our commands). A party configured with any other role (a peer eMSP, a hub's own
# HUB party) is refused there like a non-hub at hubclientinfo: HTTP 403 + 2001, nothing stored.
CPO_MODULES = frozenset({"locations", "tariffs", "sessions", "cdrs", "tokens", "commands"})

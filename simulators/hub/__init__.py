"""The roaming hub emulator: a sans-IO OCPI 2.2.1 hub whose behaviour is a persona of knobs.

Runtime interface (the same shape as the eMSP core's):
- `add_connection(id, parties, now, token_a=... | versions_url=..., their_token_a=...)`, then
  `register(id, now)` for the connections the hub registers toward itself;
- `handle(request, now)` -> `HttpResponse`, or `Deferred` for a forwarded request and a credentials
  POST/PUT (the answer comes from `completed_responses()` or `take_response(deferred_id)`);
- `pending_requests()` -> `OutboundRequest`s whose `partner` is the connection id; feed each answer
  to `on_response(request_id, response, now)`, or call `on_unreachable(request_id, now)`;
- `next_wakeup()` / `on_wakeup(now)` for forward timeouts (4002), store-and-forward retries and
  still-alive probes; `added_latency` is the hub's own delay on every message it sends;
- `truth` (HubTruth): hops, outcomes, stored/late/resent/dropped messages, fees, the id map.

Personas live in scenarios/hubs/*.yaml (persona.py names where each knob is read).
"""

from simulators.hub.hub import OcpiHub
from simulators.hub.persona import HubPersona, HubPersonaError, load_persona, load_persona_file
from simulators.hub.registry import PartyRole, Status

__all__ = [
    "HubPersona",
    "HubPersonaError",
    "OcpiHub",
    "PartyRole",
    "Status",
    "load_persona",
    "load_persona_file",
]

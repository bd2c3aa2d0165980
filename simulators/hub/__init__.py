"""The roaming hub emulator: a sans-IO OCPI 2.2.1 hub whose behaviour is a persona of knobs."""

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

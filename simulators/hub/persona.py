"""A hub's behaviour is data: a persona of knobs, loaded by name from scenarios/hubs/.

Like the CPO dialects (simulators/dialects/profile.py), each knob is read in exactly one place of
the hub; the comment on each field names that place.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PERSONA_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "hubs"

# Modules whose pushes may be broadcast (transport_and_format, Broadcast Push: meant for data every
# party needs, like Tokens and Locations; not Sessions or CDRs, which belong to one party).
BROADCAST_MODULES = ("locations", "tariffs", "tokens")
# The functional modules a hub routes (transport_and_format, Message Routing); configuration
# modules (credentials, versions, hubclientinfo) are never routed.
ROUTED_MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")


class HubPersonaError(Exception):
    pass


class HubFee(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    amount: Decimal = Field(ge=0)
    currency: str

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be an ISO 4217 code of three capital letters, e.g. EUR")
        return value


class StoreAndForward(BaseModel):
    """Messages to an unreachable receiver wait in a FIFO per receiver and are retried (a hub's
    choice against transport_and_format "Offline behaviour", which advises not to queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # Read in store.py (ForwardStore.__init__): the modules whose pushes are stored, the backoff
    # steps between retries, and the attempts before a message is given up (None: never).
    modules: tuple[str, ...] = ("locations", "tariffs", "tokens", "sessions", "cdrs")
    backoff_s: tuple[float, ...] = Field(default=(1, 2, 4, 8, 16, 30), min_length=1)
    max_attempts: int | None = Field(default=None, ge=1)
    # delivery.py (HubDelivery.__init__): a message whose forward timed out is sent again (the
    # receiver may then get it twice, recorded in the truth's `resent`); otherwise it is given up.
    resend_on_timeout: bool = False

    @field_validator("modules")
    @classmethod
    def _known_modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [module for module in value if module not in ROUTED_MODULES]
        if unknown:
            raise ValueError(f"unknown module(s) {unknown}; routed modules: {list(ROUTED_MODULES)}")
        return value

    @field_validator("backoff_s")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(step <= 0 for step in value):
            raise ValueError("every backoff step must be more than 0 seconds")
        return value


class HubPersona(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    description: str = ""
    # routing.py (HubRouting.__init__): strict needs OCPI-to-*/from-* on every routed request (2001
    # without); open routes a request without them (transport_and_format, Open Routing Request).
    routing_headers: Literal["strict", "open"] = "strict"
    # routing.py (HubRouting.__init__): Broadcast Push of BROADCAST_MODULES (OCPI-to-* naming the hub).
    broadcast: bool = True
    # connections.py (HubBase.__init__): a forward unanswered this long is answered 4002 (in `live`
    # measured by the runtime on link delays + real processing time: hub.on_timeout).
    forward_timeout_s: float = Field(default=10, gt=0)
    # transform.py (Transformer.__init__): the most a list GET through the hub asks for (`limit`).
    page_cap: int | None = Field(default=None, ge=1)
    # transform.py (Transformer.__init__): Sessions and CDRs reach the receiver under hub-scoped ids.
    hub_ids: bool = False
    # transform.py (Transformer.__init__): as_put turns a Session PATCH into a PUT of the merged Session.
    session_patch: Literal["forward", "as_put"] = "forward"
    # delivery.py (HubDelivery.__init__): hold and retry messages for an unreachable receiver.
    store_and_forward: StoreAndForward | None = None
    # connections.py (HubBase.added_latency): the hub's own delay on every message, applied by the runtime.
    added_latency_ms: int = Field(default=0, ge=0)
    # delivery.py (HubDelivery.__init__): recorded once per session whose CDR the receiver accepted.
    fee_per_session: HubFee | None = None
    # connections.py (HubBase.__init__): how often an offline party is probed (GET versions).
    offline_probe_s: float = Field(default=30, gt=0)


def persona_names() -> list[str]:
    return sorted(path.stem for path in PERSONA_DIR.glob("*.yaml"))


def _describe(path: Path, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{path}: field {field}: {error['msg']}")
    return "\n".join(problems)


def load_persona_file(path: Path) -> HubPersona:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HubPersonaError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise HubPersonaError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise HubPersonaError(f"{path}: field (top level): must be a mapping of knobs")
    try:
        return HubPersona.model_validate(data)
    except ValidationError as exc:
        raise HubPersonaError(_describe(path, exc)) from exc


def load_persona(name: str) -> HubPersona:
    path = PERSONA_DIR / f"{name}.yaml"
    if not path.is_file():
        raise HubPersonaError(f"unknown hub persona {name!r}; known: {persona_names()}")
    return load_persona_file(path)

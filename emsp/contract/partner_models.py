"""Contract models of `/api/v1/partners` (beside emsp.contract.models; never OCPI wire models or rows)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["DE"])]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$", examples=["CPA"])]
    role: Role


class Tolerate(BaseModel):
    """What the eMSP accepts from this partner beyond the spec, each use recorded as a finding
    (GET /partners/{id}/findings). All off: spec-strict."""

    model_config = ConfigDict(extra="forbid")
    plain_token: bool = False  # Authorization header with the raw token on 2.2.1/2.3.0
    token_b_as_c: bool = False  # calls with its own token B instead of our token C
    trailing_slash: bool = False  # request URLs ending in "/"
    datetime_offset: bool = False  # DateTimes with a UTC offset (read as the instant they name)
    local_time_zone: str | None = None  # DateTimes without designator are this IANA zone's wall time
    total_cost_number: bool = False  # costs as bare numbers where the version has Price objects


class PartnerIn(BaseModel):
    """A partner the operator allows to connect: its token A and the parties it may act for."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=64)]
    token_a: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
    parties: Annotated[list[Party], Field(min_length=1)]
    hub: bool = False
    tolerate: Tolerate = Tolerate()


class PartnerOut(BaseModel):
    id: str
    parties: list[Party]
    hub: bool
    registered: bool
    version: str | None
    versions_url: str | None
    endpoints: list[str]  # module identifiers the partner offers
    tolerate: Tolerate = Tolerate()


class FindingOut(BaseModel):
    """One kind of conduct the eMSP saw from a partner (emsp.findings): how often, the first time."""

    kind: str
    what: str
    country_code: str
    party_id: str
    count: int
    first_seen: str  # RFC 3339 UTC
    last_seen: str
    example: str  # a short excerpt of the first occurrence
    module: str
    object_id: str


class RegisterIn(BaseModel):
    """Where to register: the partner's versions URL and the token A it gave us out of band."""

    model_config = ConfigDict(extra="forbid")
    versions_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    token: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


class RegistrationOut(BaseModel):
    registered: bool
    status_code: int  # OCPI status code: 1000, or why not (3001 unreachable, 3002 no common version)
    message: str
    partner: PartnerOut


class PullOut(BaseModel):
    """The pulls started (one per module, and through a hub per party); their calls go out with the
    service's outbound pump and their figures show in the run's summary."""

    started: list[str]

"""The service's configuration: a YAML file validated by pydantic; `EMSP_...` variables override it.

Environment variables win over the file (EMSP_ADMIN_TOKEN, EMSP_DATABASE_URL, EMSP_EMSP__PUBLIC_URL
for nested fields), so a secret need not be written into the file. The operator's `partners` list
decides who may connect, as which parties (a party belongs to one partner; HUB only with hub: true).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from emsp.ocpi.tolerance import Tolerance
from emsp.services.fraud import FraudConfig

Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
Token = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


class ConfigError(Exception):
    """Invalid configuration; the CLI turns it into exit code 2 with this one line."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(f"{file}: {field}: {reason}")
        self.file, self.field, self.reason = file, field, reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartyConfig(_Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    role: Role


class PartnerConfig(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    token_a: Token
    parties: Annotated[list[PartyConfig], Field(min_length=1)]
    hub: bool = False
    # What the eMSP accepts from this partner beyond the spec (emsp.ocpi.tolerance; each use a finding).
    tolerate: dict[str, Any] = {}

    @field_validator("tolerate")
    @classmethod
    def _known_tolerance(cls, value: dict[str, Any]) -> dict[str, Any]:
        return Tolerance.from_mapping(value).as_doc()

    @model_validator(mode="after")
    def _hub_role_needs_hub(self) -> PartnerConfig:
        if any(p.role == "HUB" for p in self.parties) and not self.hub:
            raise ValueError("role HUB is only for a partner configured with hub: true")
        return self


class EmspIdentity(_Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    business_name: Annotated[str, Field(min_length=1, max_length=100)]
    public_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+(/\S*)?$")]

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class FraudSettings(_Strict):
    """Thresholds of the fraud rules in real-time authorization (emsp/services/FRAUD.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    max_speed_kmh: Annotated[float, Field(gt=0)] = 120.0
    travel_slack_km: Annotated[float, Field(ge=0)] = 1.0
    travel_horizon_hours: Annotated[float, Field(gt=0)] = 24.0
    max_authorizations_per_hour: Annotated[int, Field(ge=1)] = 6
    blocked_retries: Annotated[int, Field(ge=1)] = 3
    max_session_kwh: Annotated[Decimal, Field(gt=0)] = Decimal(150)

    @field_validator(
        "max_speed_kmh",
        "travel_slack_km",
        "travel_horizon_hours",
        "max_authorizations_per_hour",
        "blocked_retries",
        "max_session_kwh",
        mode="before",
    )
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # Lax mode reads a YAML 1.1 `yes`/`on`/`true` as 1 (bool is an int): a threshold of 1.
        if isinstance(value, bool):
            raise ValueError("a boolean (true/yes/on), not a number")
        return value

    def config(self) -> FraudConfig:
        return FraudConfig(**self.model_dump())


class ServiceConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMSP_", env_nested_delimiter="__", extra="forbid")

    emsp: EmspIdentity
    admin_token: Token
    # Bearer token of /metrics (a Prometheus scraper need not hold the admin token); the admin
    # token when unset. The metrics name partners: they are not public.
    metrics_token: Token | None = None
    partners: list[PartnerConfig] = []
    database_url: str | None = None
    fraud: FraudSettings = FraudSettings()
    # Keys the credentials tokens the eMSP issues (HMAC-SHA256); set it by EMSP_TOKEN_SECRET rather
    # than in the file. Unset: a random one per start (issued tokens are stored: restarts are fine).
    token_secret: Annotated[str, Field(min_length=16, max_length=256)] | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file

    @model_validator(mode="after")
    def _one_owner_per_party(self) -> ServiceConfig:
        ids: set[str] = set()
        tokens: set[str] = set()
        owner: dict[tuple[str, str], str] = {}
        for index, partner in enumerate(self.partners):
            if partner.id in ids:
                raise ValueError(f"partners[{index}].id: {partner.id!r} is configured twice")
            if partner.token_a in tokens:
                raise ValueError(f"partners[{index}].token_a: already the token A of another partner")
            ids.add(partner.id)
            tokens.add(partner.token_a)
            for party in partner.parties:
                key = (party.country_code, party.party_id)
                if owner.get(key, partner.id) != partner.id:
                    raise ValueError(
                        f"partners[{index}].parties: {key[0]}/{key[1]} is already configured for "
                        f"partner {owner[key]!r} (a party belongs to one partner)"
                    )
                owner[key] = partner.id
        return self


def environment_error(exc: SettingsError, prefix: str) -> tuple[str, str]:
    """(variable, reason) of an environment override pydantic-settings could not parse (a complex
    field's value must be JSON): its message names the field, its cause the parse error. The
    variable named is the one set: the field's own, or one nested in it (FIELD__PART)."""
    named = re.search(r'field "([^"]+)"', str(exc))
    field = f"{prefix}{named.group(1)}".upper() if named else prefix
    set_here = sorted(k for k in os.environ if k.upper() == field or k.upper().startswith(f"{field}__"))
    variable = " or ".join(set_here) or (field if named else f"{prefix}*")
    cause = exc.__cause__
    return variable, f"not valid JSON ({cause})" if cause is not None else str(exc)


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def load_config(path: Path) -> ServiceConfig:
    """The validated configuration of `path` (with environment overrides), or ConfigError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "(file)", exc.strerror or str(exc)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        raise ConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(root)", "must be a mapping with emsp, admin_token and partners")
    try:
        return ServiceConfig(**raw)
    except SettingsError as exc:
        raise ConfigError("environment", *environment_error(exc, "EMSP_")) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if not loc and ": " in message:  # a whole-config rule names its own field
            field, _, message = message.partition(": ")
            raise ConfigError(str(path), field, message) from exc
        raise ConfigError(str(path), _field_path(loc), message) from exc

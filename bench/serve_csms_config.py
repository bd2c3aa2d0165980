"""Configuration of `emsp-bench serve csms`: YAML validated by pydantic, `EMSP_CSMS_...` environment
variables override it (nested fields with `__`, e.g. `EMSP_CSMS_AUTHORIZATION__MODE=local_list`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from bench.ocpp_security import authorization_key_problem, password_problem
from emsp.service.config import environment_error


class CsmsConfigError(ValueError):
    """Invalid configuration: names the file, the field and the reason (exit 2)."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        super().__init__(f"{source}: {field}: {reason}")


class StationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # accept: any station id; accept_listed: every station connects, but only listed ones get their
    # BootNotification Accepted (the others Rejected, so they retry and show up in the logs); reject:
    # a station that is not listed is refused at the WebSocket handshake (HTTP 403).
    unknown: Literal["accept", "accept_listed", "reject"] = "accept"
    listed: list[str] = Field(default_factory=list, max_length=100_000)


# At most 36 characters (a 2.0.1 idToken); those above 20 (a 1.6 idTag) go to 2.0.1 stations only.
IdToken = Annotated[str, Field(min_length=1, max_length=36)]


class AuthorizationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No eMSP is attached to the served CSMS: Authorize (and a start without one) is decided here.
    mode: Literal["accept_all", "local_list"] = "accept_all"
    # Each a possible idTag/idToken, as local_list.tokens: these are pushed when that has none.
    tokens: list[IdToken] = Field(default_factory=list, max_length=1_000_000)
    _folded: frozenset[str] = PrivateAttr(default_factory=frozenset)

    def model_post_init(self, context: Any, /) -> None:
        # Looked up on every Authorize: a set, without case (idTag/idToken are case-insensitive).
        self._folded = frozenset(token.casefold() for token in self.tokens)

    def lists(self, token: str) -> bool:
        return token.casefold() in self._folded


class LocalListPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # After each accepted boot, push these tokens to the station's local authorization list
    # (SendLocalList Full, then Differential updates past `per_message` tokens), so that the station
    # still authorizes them while offline. tokens unset: authorization.tokens (the local_list mode's).
    push_on_boot: bool = False
    tokens: list[IdToken] | None = Field(default=None, max_length=100_000)
    per_message: int = Field(default=100, ge=1, le=10_000)  # what one SendLocalList carries (station's limit)


Profile = Literal[0, 1, 2, 3]


class StationSecurity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Profile | None = None  # None: security.profile
    # Profiles 1 and 2: the station's BasicAuthPassword (2.0.1; also a 1.6 charger's password as text).
    # SecretStr: it never shows in a repr, a log line or a validation message.
    password: SecretStr | None = None

    @field_validator("password")
    @classmethod
    def _ocpp_password(cls, value: SecretStr | None) -> SecretStr | None:
        problem = None if value is None else password_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value

    # Instead of a password, for a 1.6 station: its AuthorizationKey (hex). Accepted on the wire as the
    # whitepaper says (the octets) and as many 1.6 chargers send it (the hex text itself).
    authorization_key: SecretStr | None = None

    @field_validator("authorization_key")
    @classmethod
    def _ocpp_key(cls, value: SecretStr | None) -> SecretStr | None:
        problem = None if value is None else authorization_key_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value

    def secrets(self) -> list[bytes]:
        """The passwords accepted on the wire."""
        if self.password is not None:
            return [self.password.get_secret_value().encode()]
        if self.authorization_key is not None:
            key = self.authorization_key.get_secret_value()
            return [bytes.fromhex(key), key.encode()]
        return []


class SecurityPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The lowest profile a station may connect with (0: none, as plain OCPP-J 1.6); per station below.
    # A station connecting with a lower one is refused at the handshake.
    profile: Profile = 0
    # ca.pem, server.pem, server.key (made at start when missing) and <station id>.pem/.key for the
    # stations of profile 3; wanted as soon as any station is of profile 2 or 3.
    certs_dir: Path | None = None
    # Profile 3: client certificates must chain to this CA (default: certs_dir/ca.pem).
    client_ca: Path | None = None
    stations: dict[str, StationSecurity] = Field(default_factory=dict, max_length=100_000)

    @model_validator(mode="after")
    def _complete(self) -> SecurityPolicy:
        for station_id, station in sorted(self.stations.items()):
            if ":" in station_id:
                raise ValueError(f"station {station_id!r}: a Basic auth username cannot hold ':' (RFC 7617)")
            if station.password is not None and station.authorization_key is not None:
                raise ValueError(f"station {station_id!r}: a password or an authorization_key, not both")
            if station.profile == 3 and station.secrets():
                raise ValueError(
                    f"station {station_id!r}: profile 3 authenticates by certificate, no password"
                )
        return self

    def profile_of(self, station_id: str) -> int:
        station = self.stations.get(station_id)
        return station.profile if station is not None and station.profile is not None else self.profile

    def secrets_of(self, station_id: str) -> list[bytes]:
        station = self.stations.get(station_id)
        return station.secrets() if station is not None else []

    def tls_wanted(self) -> bool:
        return self.profile >= 2 or any((s.profile or 0) >= 2 for s in self.stations.values())

    def certificate_stations(self) -> list[str]:
        return sorted(sid for sid in self.stations if self.profile_of(sid) == 3)


class CsmsServiceConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMSP_CSMS_", env_nested_delimiter="__", extra="forbid")

    heartbeat_interval_s: int = Field(300, ge=0, le=86_400)
    call_timeout_s: float = Field(30, gt=0, le=3600)  # a CSMS-initiated CALL unanswered this long: 504
    stations: StationPolicy = Field(default_factory=StationPolicy)
    authorization: AuthorizationPolicy = Field(default_factory=AuthorizationPolicy)
    local_list: LocalListPolicy = Field(default_factory=LocalListPolicy)
    api_token: str | None = None  # when set, the control API wants `Authorization: Bearer <token>`
    security: SecurityPolicy = Field(default_factory=SecurityPolicy)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # the environment overrides the file

    def authorizes(self, token: str) -> bool:
        return self.authorization.mode == "accept_all" or self.authorization.lists(token)

    def local_list_tokens(self) -> list[str] | None:
        """What the CSMS pushes to each station's local list after its boot (None: nothing)."""
        if not self.local_list.push_on_boot:
            return None
        tokens = self.local_list.tokens
        return list(tokens if tokens is not None else self.authorization.tokens)

    def knows(self, station_id: str) -> bool:
        return self.stations.unknown == "accept" or station_id in self.stations.listed


def load_csms_config(path: Path | None) -> CsmsServiceConfig:
    source = str(path) if path is not None else "environment"
    data: Any = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise CsmsConfigError(source, "--config", exc.strerror or str(exc)) from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CsmsConfigError(source, "(file)", f"not YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise CsmsConfigError(source, "(top level)", "must be a mapping")
    try:
        return CsmsServiceConfig(**data)
    except SettingsError as exc:
        raise CsmsConfigError("environment", *environment_error(exc, "EMSP_CSMS_")) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise CsmsConfigError(source, field, error["msg"]) from None


def with_security_options(
    config: CsmsServiceConfig, source: str, *, profile: int | None, certs_dir: Path | None
) -> CsmsServiceConfig:
    """`--security-profile` and `--certs-dir` over the file's `security` (`source`), then what only the
    two together can say: a profile of 2 or 3 needs a certs dir from one or the other."""
    data = config.security.model_dump()
    if profile is not None:
        data["profile"] = profile
    if certs_dir is not None:
        data["certs_dir"] = certs_dir
    security = SecurityPolicy.model_validate(data)  # the options cannot make a valid policy invalid
    if security.certs_dir is None and security.tls_wanted():
        where = "command line" if profile is not None and profile >= 2 else source
        raise CsmsConfigError(where, "security.certs_dir", "needed for profiles 2 and 3 (or --certs-dir)")
    return config.model_copy(update={"security": security})

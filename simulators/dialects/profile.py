"""A CPO dialect is data: a profile of quirk knobs, loaded by name from scenarios/profiles/ or by path.

Each knob is read in exactly one place of the mock CPO; a knob nobody reads does not exist here.
Every default is what OCPI says (the `spec-strict` profile); `KNOBS.md` beside this file says where
each knob is read and which test shows its effect on the wire and on the run's outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROFILE_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "profiles"


class DialectError(Exception):
    """An unknown or invalid profile; `file` and `field` say where when a profile file is at fault."""

    def __init__(self, reason: str, *, file: str | None = None, field: str | None = None) -> None:
        super().__init__(f"{file}: {field}: {reason}" if file else reason)
        self.file, self.field, self.reason = file, field, reason


class DialectProfile(BaseModel):
    # allow_inf_nan=False: YAML `.nan` or `.inf` (or 1.0e400) is refused as not a finite number
    # instead of failing a bound check with a message that does not say why.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    description: str = ""
    # -- transport (transport_and_format, credentials) -------------------------------------------
    authorization_header: Literal["base64", "plain"] = "base64"
    token_after_registration: Literal["token_c", "token_b"] = "token_c"
    url_trailing_slash: bool = False
    routing_headers: Literal["sent", "missing"] = "sent"
    ack_data: Literal["as_spec", "absent"] = "as_spec"
    not_found: Literal["http_404", "ok_2003"] = "http_404"
    # -- formats of the objects the CPO sends (types) --------------------------------------------
    timestamp_zone: Literal["z", "none", "plus_offset", "local"] = "z"
    timestamp_fraction: Literal["none", "millis", "micros"] = "none"
    country_code_case: Literal["upper", "lower"] = "upper"
    extension_fields: bool = False
    total_cost_format: Literal["price", "number"] = "price"
    incl_vat: Literal["present", "omitted"] = "present"
    last_updated_on_noop: Literal["keep", "bump"] = "keep"
    # -- the Sender interfaces' pagination (transport_and_format, Pagination) ----------------------
    page_cap: Annotated[int, Field(ge=1)] | None = None
    pagination_link: Literal["full", "missing", "without_limit"] = "full"
    empty_last_page: bool = False
    next_link_date_to: Literal["as_requested", "frozen"] = "as_requested"
    offset: Literal["honoured", "ignored"] = "honoured"
    # -- how the CPO reads its own tariffs when it prices a CDR (mod_tariffs, mod_cdrs) ------------
    cost_rounding: Literal["on_total", "per_component"] = "on_total"
    step_size: Literal["on_total", "per_period"] = "on_total"
    min_duration_from: Literal["session_start", "charging_start"] = "session_start"
    end_time_midnight: Literal["end_of_day", "start_of_day"] = "end_of_day"
    restriction_clock: Literal["local", "utc"] = "local"
    midnight_wrap: Literal["supported", "unsupported"] = "supported"
    # -- Sessions (mod_sessions) --------------------------------------------------------------------
    session_updates: Literal["every_sample", "none", "put_only"] = "every_sample"
    charging_periods_patch: Literal["delta", "full_list"] = "delta"
    stale_patch_after_final: bool = False
    session_left_pending: bool = False
    # -- CDRs (mod_cdrs) ----------------------------------------------------------------------------
    duplicate_cdrs: Annotated[float, Field(ge=0, le=1)] = 0.0
    cdr_delay_minutes: Annotated[int, Field(ge=0)] = 0
    zero_cost_cdrs: Literal["sent", "withheld"] = "sent"
    cdr_totals_mismatch: bool = False
    cdr_url_from: Literal["location_header", "body"] = "location_header"
    cdr_embeds_tariffs: bool = True
    # What the CPO does with a push the eMSP did not take (unreachable, 502/503/504): keep it and
    # retry in order (simulators/cpo/retry.py), or drop it; then only the eMSP's pull recovers it.
    push_retry: Literal["store_and_forward", "drop"] = "store_and_forward"
    # How the CPO corrects a CDR (a cdr_correction event): a credit CDR naming the original
    # (`credit_reference_id`, mod_cdrs), one without the reference, or no credit CDR at all (only
    # the replacement). Read in OcpiCpo.correct_cdrs.
    credit_cdrs: Literal["with_reference", "without_reference", "none"] = "with_reference"

    # mod_commands: on_time POSTs every CommandResult; timeout_then_session never does (the eMSP's
    # command times out), though the charger carries the command out: a START_SESSION still starts
    # a session the eMSP must bill. Read in one place: simulators/cpo/commands.py.
    command_result: Literal["on_time", "timeout_then_session"] = "on_time"
    # mod_tokens WhitelistType ALLOWED lets the CPO choose: `realtime` always asks the eMSP (and
    # refuses when it cannot get an answer); `offline_fallback` allows the token from its copy when
    # the eMSP does not answer. ALWAYS and ALLOWED_OFFLINE are the spec's, whatever this says.
    # Read in OcpiCpo._whitelisted.
    whitelist_allowed: Literal["realtime", "offline_fallback"] = "realtime"

    @property
    def patches_sessions(self) -> bool:
        """Sessions get PATCHes between their PUTs (session_updates every_sample): what the CPO's
        store needs to know at a session's first PUT; the knob itself is read in OcpiCpo._sampled."""
        return self.session_updates == "every_sample"

    def non_default(self) -> dict[str, object]:
        """The knobs this profile sets away from spec-strict (name and description excluded)."""
        out: dict[str, object] = {}
        for name, info in type(self).model_fields.items():
            if name in ("name", "description"):
                continue
            value = getattr(self, name)
            if value != info.default:
                out[name] = value
        return out


def knob_names() -> list[str]:
    return [n for n in DialectProfile.model_fields if n not in ("name", "description")]


def profile_names() -> list[str]:
    return sorted(path.stem for path in PROFILE_DIR.glob("*.yaml"))


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


def profile_path(name: str, base_dir: Path | None = None) -> Path:
    """A built-in name (scenarios/profiles/<name>.yaml) or a YAML file relative to `base_dir`."""
    if _is_path(name):
        path = Path(name)
        return path if path.is_absolute() or base_dir is None else base_dir / path
    return PROFILE_DIR / f"{name}.yaml"


def load_profile(name: str, base_dir: Path | None = None) -> DialectProfile:
    path = profile_path(name, base_dir)
    if not path.is_file():
        if _is_path(name):
            raise DialectError(f"dialect file {path} does not exist")
        raise DialectError(f"unknown dialect {name!r}; known: {profile_names()}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DialectError(f"not a readable YAML file: {exc}", file=str(path), field="(file)") from exc
    if not isinstance(data, dict):
        raise DialectError("must be a YAML mapping of knobs", file=str(path), field="(file)")
    data.setdefault("name", path.stem)
    try:
        return DialectProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(profile)"
        raise DialectError(str(first["msg"]), file=str(path), field=where) from exc

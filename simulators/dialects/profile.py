"""A CPO dialect is data: a profile of quirk knobs, loaded by name from scenarios/profiles/.

Each knob is read in exactly one place of the mock CPO; a knob nobody reads does not exist here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PROFILE_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "profiles"


class DialectError(Exception):
    pass


class DialectProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    authorization_header: Literal["base64", "plain"] = "base64"
    session_updates: Literal["every_sample", "none"] = "every_sample"
    cdr_embeds_tariffs: bool = True
    pricing_policy: str = "default"
    # mod_commands: on_time POSTs every CommandResult; timeout_then_session never does (the eMSP's
    # command times out), though the charger carries the command out: a START_SESSION still starts
    # a session the eMSP must bill. Read in one place: simulators/cpo/commands.py.
    command_result: Literal["on_time", "timeout_then_session"] = "on_time"


def profile_names() -> list[str]:
    return sorted(path.stem for path in PROFILE_DIR.glob("*.yaml"))


def load_profile(name: str) -> DialectProfile:
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise DialectError(f"unknown dialect {name!r}; known: {profile_names()}")
    try:
        return DialectProfile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DialectError(f"{path}: {exc}") from exc

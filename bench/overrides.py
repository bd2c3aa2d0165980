"""`--set path=value`: change one field of a scenario before it is validated.

A path is the one an error message names: dotted fields and list indexes, e.g.
`demand.arrivals_per_hour` or `cpos[0].ocpi_link.latency_ms`. The value is read as a YAML scalar or
flow value (`80`, `2.5`, `true`, `price_at_start`, `{min: 4, max: 30}`). A path must name a field
of the scenario schema (a field the file leaves at its default may be set too); anything else is
invalid input naming the path. The overridden scenario is then validated like a file, so a bad
value is refused with the file, the field and the reason.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_PATH = re.compile(rf"{_NAME}(?:\[\d+\]|\.{_NAME})*")
_SEGMENT = re.compile(rf"({_NAME})|\[(\d+)\]")
SET_FIELD = "--set"


class OverrideError(ValueError):
    """A `--set` that cannot apply; `path` and `reason` name it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True, slots=True)
class Override:
    path: str
    value: Any
    text: str  # as given, for tables and run names

    def __str__(self) -> str:
        return f"{self.path}={self.text}"


def parse_path(path: str) -> list[str | int]:
    """`cpos[0].ocpi_link.latency_ms` -> ['cpos', 0, 'ocpi_link', 'latency_ms']."""
    if not _PATH.fullmatch(path):
        raise OverrideError(path or "(empty)", "not a path like demand.arrivals_per_hour or cpos[0].id")
    return [m.group(1) if m.group(1) else int(m.group(2)) for m in _SEGMENT.finditer(path)]


def parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text  # not YAML: take it as a string, and let the schema judge it


def parse_set(spec: str) -> Override:
    """`path=value` (one value)."""
    path, sep, text = spec.partition("=")
    if not sep:
        raise OverrideError(spec, "expected path=value, e.g. demand.arrivals_per_hour=100")
    parse_path(path.strip())
    return Override(path.strip(), parse_value(text.strip()), text.strip())


def split_values(text: str) -> list[str]:
    """`50,100,200` -> three values; commas inside [] or {} belong to one value."""
    values: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    values.append("".join(current).strip())
    return values


def parse_grid_set(spec: str) -> tuple[str, list[Override]]:
    """`path=v1,v2,...` -> the path and one Override per value (a sweep axis)."""
    path, sep, text = spec.partition("=")
    if not sep:
        raise OverrideError(spec, "expected path=value[,value...], e.g. demand.arrivals_per_hour=50,100")
    path = path.strip()
    parse_path(path)
    texts = split_values(text)
    if any(not t for t in texts):
        raise OverrideError(path, f"an empty value in {text!r}")
    if len(set(texts)) != len(texts):
        raise OverrideError(path, f"a value is given twice in {text!r}")
    return path, [Override(path, parse_value(t), t) for t in texts]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (directly, in a list, or as an option), if any."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin in (list, typing.Union, types.UnionType):
        models = [m for m in map(_model_of, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def apply(raw: dict[str, Any], override: Override, root: type[BaseModel]) -> None:
    """Set the override's value in the raw scenario mapping, checking the path against the schema."""
    parts = parse_path(override.path)
    model: type[BaseModel] | None = root
    node: Any = raw
    walked = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(part, int):
            walked += f"[{part}]"
            if not isinstance(node, list):
                raise OverrideError(override.path, f"{walked[: walked.rfind('[')]} is not a list")
            if part >= len(node):
                raise OverrideError(override.path, f"{walked}: the list has {len(node)} item(s)")
            if last:
                node[part] = override.value
                return
            node = node[part]
            continue
        walked += ("." if walked else "") + part
        if not isinstance(node, dict):
            raise OverrideError(override.path, f"{walked}: its parent is not a mapping")
        if model is not None:
            fields = dict(model.model_fields) | {f.alias: f for f in model.model_fields.values() if f.alias}
            if part not in fields:
                known = ", ".join(sorted(model.model_fields))
                raise OverrideError(override.path, f"{walked} is not a field (known here: {known})")
            child_model = _model_of(fields[part].annotation)
        else:
            # A free-form mapping (e.g. a CPO's tariffs): only keys the file has.
            if part not in node:
                raise OverrideError(
                    override.path, f"{walked}: no such key (keys: {', '.join(map(str, node))})"
                )
            child_model = None
        if last:
            node[part] = override.value
            return
        if part not in node or node[part] is None:
            if child_model is None:
                raise OverrideError(override.path, f"{walked} is not set in the file and has no fields")
            # Left at its default in the file: start from that default, so only this field changes.
            default = fields[part].default
            node[part] = default.model_dump(by_alias=True) if isinstance(default, BaseModel) else {}
        node, model = node[part], child_model


def apply_all(raw: dict[str, Any], overrides: Sequence[Override], root: type[BaseModel]) -> None:
    for override in overrides:
        apply(raw, override, root)

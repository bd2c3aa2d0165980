"""A scenario validator's complaint about fields below the model it validates.

Pydantic names the model a validator belongs to (`demand.energy_kwh`, `events[2]`), not the field at
fault within it: a range whose min exceeds its max is at `demand.energy_kwh.min` (or `.max`, if that
is the one a `--set` changed). bench/scenario.py reads `fields` to name the exact one."""

from __future__ import annotations


class FieldError(ValueError):
    """`fields`: paths relative to the validated model ("min", "soc_at_arrival.max"), the first named
    unless a --set changed another of them; `reason` is the message, without pydantic's prefix."""

    def __init__(self, fields: str | tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.fields = (fields,) if isinstance(fields, str) else fields
        self.reason = reason

"""A compiled OCPP schema that is cheap to build: the detailed validator only for a payload that fails.

fastjsonschema's detailed exceptions write each rule's (expanded) schema into the generated code,
so that code is about 3.5x larger and takes ~3x the CPU to generate and compile; a `sim` run of a
few hundred sessions spends a few percent of its CPU compiling its ~24 schemas. Which rule failed
(`rule`, the message) is only needed when a payload fails, so every payload goes through the
validator without them, and one that fails goes again through the detailed one (compiled then,
once per schema), which raises the very exception the detailed validator alone would have raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema

Check = Callable[[Any], Any]


def compiled(schema: dict[str, Any], formats: Mapping[str, Callable[[Any], bool]]) -> Check:
    """`fastjsonschema.compile(schema, formats=formats)`: same outcome, same exceptions, built lazily."""
    quick = fastjsonschema.compile(schema, formats=dict(formats), detailed_exceptions=False)
    detailed: list[Check] = []

    def validate(data: Any) -> Any:
        try:
            return quick(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            refused = exc
        if not detailed:
            detailed.append(fastjsonschema.compile(schema, formats=dict(formats)))
        # Same rules in the same order (fast fail): it raises at the same rule. Defaults the quick
        # one filled in (use_default) are only set where a key was missing: the same data.
        detailed[0](data)
        raise refused  # only if the two disagree: never pass what one refused

    return validate

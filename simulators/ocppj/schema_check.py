"""A compiled OCPP schema that is cheap to build: the detailed validator only for a payload that fails.

fastjsonschema's detailed exceptions write each rule's (expanded) schema into the generated code,
so that code is about 3.5x larger and takes ~3x the CPU to generate and compile; a `sim` run of a
few hundred sessions spends a few percent of its CPU compiling its ~24 schemas. Which rule failed
(`rule`, the message) is only needed when a payload fails, so every payload goes through the
validator without them, and one that fails goes again through the detailed one (compiled then,
once per schema), which raises the very exception the detailed validator alone would have raised.

The quick validator is also lean in what it passes down: fastjsonschema calls a sub-schema's
function (a `$ref`: each 2.0.1 definition) with the name of the value for its messages, built on
every call, for an array's items with `str.format(**locals())` (a dict of all the caller's locals
per item). The quick validator's messages are never shown, so each call passes its own name on
unchanged: the same checks in the same order, without that text (a TransactionEventRequest
validates ~25% faster).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import fastjsonschema
from fastjsonschema.ref_resolver import RefResolver

Check = Callable[[Any], Any]

# The name argument of a call to a sub-schema's function in fastjsonschema's generated code:
# `, (name_prefix or "data") + ".path[{item_x}]".format(**locals()))` (the string, with escapes,
# and the format optional), the call's last argument. Messages (`raise ...("" + (name_prefix ...`)
# do not match: their text follows an opening parenthesis and `"" + `, not a comma.
_NAME_ARGUMENT = re.compile(
    r', \(name_prefix or "data"\) \+ "(?:[^"\\]|\\.)*"(?:\.format\(\*\*locals\(\)\))?\)'
)


def _quick(schema: dict[str, Any], formats: Mapping[str, Callable[[Any], bool]]) -> Check:
    """fastjsonschema.compile(schema, formats=formats, detailed_exceptions=False), its sub-schema
    calls passing their name on (see the module's docstring)."""
    formats = dict(formats)
    code = fastjsonschema.compile_to_code(schema, formats=formats, detailed_exceptions=False)
    namespace: dict[str, Any] = {}
    exec(_NAME_ARGUMENT.sub(", name_prefix)", code), namespace)
    # The root function's name, as compile() finds it (`validate`, or from the schema's `$id`).
    root = RefResolver.from_schema(schema, handlers={}, store={}).get_scope_name()
    return partial(namespace[root], custom_formats=formats)


def compiled(schema: dict[str, Any], formats: Mapping[str, Callable[[Any], bool]]) -> Check:
    """`fastjsonschema.compile(schema, formats=formats)`: same outcome, same exceptions, built lazily."""
    quick = _quick(schema, formats)
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

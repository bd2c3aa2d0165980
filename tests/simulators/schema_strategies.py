"""Hypothesis strategies for payloads valid under the OCPP JSON schemas (the subset of JSON Schema they
use: objects, $ref to definitions, enums, maxLength, min/maxItems, minimum/maximum, multipleOf,
date-time). Optional fields are drawn present or absent; values lean to edge cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

# date-time forms a CSMS or charger may send, all schema-valid (lower-case z, no zone, offsets).
TIMESTAMPS = st.sampled_from(
    [
        "2024-05-01T08:00:00Z",
        "2024-05-01t08:00:00z",
        "2024-05-01T08:00:00",
        "2024-05-01T10:00:00+02:00",
        "2024-05-01T08:00:00.123456789Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2016-12-31T23:59:60Z",
    ]
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    definitions = schema.get("definitions", {})

    def build(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            return build(definitions[node["$ref"].split("/")[-1]], depth)
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object":
            props = node.get("properties", {})
            required = set(node.get("required", []))
            fields = {k: build(v, depth + 1) for k, v in props.items() if k in required}
            optional = {k: build(v, depth + 1) for k, v in props.items() if k not in required and depth < 6}
            return st.fixed_dictionaries(fields, optional=optional)
        if kind == "array":
            low = node.get("minItems", 0)
            high = min(node.get("maxItems", low + 2), low + 2)
            return st.lists(build(node["items"], depth + 1), min_size=low, max_size=high)
        if kind == "string":
            if node.get("format") == "date-time":
                return TIMESTAMPS
            return st.text(max_size=min(node.get("maxLength", 20), 20))
        if kind == "integer":
            low, high = node.get("minimum", -(2**31)), node.get("maximum", 2**31)
            return st.one_of(st.sampled_from([max(low, 0), max(low, 1)]), st.integers(low, high))
        if kind == "number":
            step = Decimal(str(node.get("multipleOf", "0.001")))
            low = node.get("minimum", -(10**9))
            return st.integers(int(low / step) if low else -(10**6), 10**7).map(lambda n: n * step)
        if kind == "boolean":
            return st.booleans()
        if kind is None:  # any JSON (2.0.1 DataTransfer.data)
            scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
            return st.one_of(scalars, st.dictionaries(st.text(max_size=3), scalars, max_size=2))
        raise ValueError(f"schema keyword not handled: {node}")

    return build(schema, 0)

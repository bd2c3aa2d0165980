"""Fast paths of the request path give exactly what the general code gives (emsp.ocpi.envelope,
body, v221.types)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from emsp.ocpi import body as body_module
from emsp.ocpi.body import MAX_DEPTH, parse_json
from emsp.ocpi.envelope import MISSING, envelope_body, envelope_dict_body
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.v221 import types

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.parametrize("data", [MISSING, None, [], {"a": Decimal("1.50"), "b": 'é"\n'}, "x", 3])
@pytest.mark.parametrize("message", [None, "", "Success", 'quote " é \u2028 \x00 tab\t'])
@pytest.mark.parametrize("now", [NOW, NOW.replace(microsecond=0)])
def test_envelope_text_is_what_dumps_gives(data: Any, message: str | None, now: datetime) -> None:
    for status_code in (1000, 2001, 3000):
        assert envelope_body(data, status_code, message, now) == envelope_dict_body(
            data, status_code, message, now
        )


def _nested(depth: int) -> str:
    return "[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)


@pytest.mark.parametrize("depth", [1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5])
def test_depth_is_refused_exactly_as_the_walk_refuses_it(depth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts with few brackets skip the walk: the answer must not change at the limit."""
    text = _nested(depth)
    walked: list[bool] = []
    check_tree = body_module.check_tree

    def spy(value: Any, *, strings: bool = True) -> None:
        walked.append(True)
        check_tree(value, strings=strings)

    monkeypatch.setattr(body_module, "check_tree", spy)
    if depth > MAX_DEPTH:
        with pytest.raises(OcpiError, match="nested deeper"):
            parse_json(text)
    else:
        assert parse_json(text) is not None
    assert walked == ([True] if depth > MAX_DEPTH else [])


def test_brackets_inside_strings_only_make_the_walk_happen() -> None:
    text = '{"a": "' + "[" * (MAX_DEPTH + 1) + '"}'
    assert parse_json(text) == {"a": "[" * (MAX_DEPTH + 1)}


@pytest.mark.parametrize(
    "text", ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789", "2026-01-02T05:04:05+02:00"]
)
def test_a_remembered_datetime_is_the_parsed_one(text: str) -> None:
    first = types._datetime(text)
    assert types._datetime(text) == first == types.parse_ocpi_datetime(text)
    assert first.tzinfo is UTC


def test_a_bad_datetime_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            types._datetime("2026-13-02T03:04:05Z")
    assert "2026-13-02T03:04:05Z" not in types._PARSED_DATETIMES


def test_remembered_datetimes_once_full_let_only_the_oldest_go(monkeypatch: pytest.MonkeyPatch) -> None:
    # Emptied when full, the memo's size swung with the run's length (and so did memory per session).
    monkeypatch.setattr(types, "_PARSED_DATETIMES", {})
    monkeypatch.setattr(types, "_MAX_PARSED_DATETIMES", 3)
    texts = [f"2026-01-02T03:04:0{n}Z" for n in range(5)]
    for text in texts:
        types._datetime(text)
    assert list(types._PARSED_DATETIMES) == texts[2:]
    assert types._PARSED_DATETIMES[texts[4]] == types.parse_ocpi_datetime(texts[4])

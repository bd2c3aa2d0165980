"""Frames our own codec wrote after validating them, passed in-process to a codec of the same run.

In `sim` every OCPP frame is written by one of our endpoints (its payload validated against its
schema on the way out) and read by another in the same process: validating it again on the way in
checks the same message twice. Inside `vouched_frames()` (the sim runtime's run), the encoder
records each frame text it validated with the validator it passed, and the decoder skips its own
validation when the text it reads is one of those and needs that very validator (same version,
action and direction). Every message is still validated once against its schema.

Only payloads that read back as the values they were written from are vouched for: no float
anywhere (a float is read back as a Decimal, which e.g. an "integer" field refuses where the float
5.0 passed) and only string keys. Any other text (a peer's, a hand-made bad frame, a frame altered on
the way) is validated as before. Outside the context (live runs, tests, the codec benchmark)
nothing is recorded or skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

Validator = Callable[[Any], Any]

# frame text -> the validator its payload passed; one entry per frame in flight (taken when read)
VOUCHED: ContextVar[dict[str, Validator] | None] = ContextVar("vouched_frames", default=None)


@contextmanager
def vouched_frames() -> Iterator[dict[str, Validator]]:
    """Within this block, frames our codecs write and validate are read back without a second check."""
    frames: dict[str, Validator] = {}
    token = VOUCHED.set(frames)
    try:
        yield frames
    finally:
        VOUCHED.reset(token)


_STR_ONLY = frozenset({str})


def reads_back_same(value: Any) -> bool:
    """Whether JSON text written from `value` parses (floats as Decimal) to values of the same JSON
    types and schema outcome: only strings, ints, bools, None, Decimals, and dicts (string keys),
    lists and tuples of them. Anything else (a float, a subclass such as a namedtuple, which is
    written as an object) is left to the reader's own validation."""
    kind = type(value)
    if kind is dict:
        # Only str keys: the set of the keys' types, built in C (no generator frame per key).
        if not set(map(type, value)) <= _STR_ONLY:
            return False
        return _all_same(value.values())
    if kind is list or kind is tuple:
        return _all_same(value)
    return kind is str or kind is int or kind is bool or value is None or kind is Decimal


def _all_same(items: Iterable[Any]) -> bool:
    # Leaves checked here, containers by recursion: one call per container, not per value (this
    # runs for every frame written).
    for item in items:
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool or kind is Decimal:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not reads_back_same(item):
                return False
            continue
        return False
    return True

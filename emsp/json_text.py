"""simplejson's `JSONEncoder.encode` for hot paths: the C encoder built once, not per call.

`JSONEncoder.iterencode` constructs simplejson's C encoder (twenty arguments, a float formatter
closure) on every call, which costs about as much as encoding a small OCPI envelope or OCPP frame.
`reused` builds it once from an encoder's own settings, exactly as `iterencode` does, so every text
is the same. One setting moves: with `namedtuple_as_object` (simplejson's default) the C encoder
asks every dict, list and Decimal it writes for an `_asdict` method, raising and clearing an
AttributeError each time: about half the cost of writing an OCPI Session or an OCPP frame. `reused`
leaves namedtuples (and tuples) to its `default`, which writes them as that setting would. The
simulators' OCPP codec and OCPI client use it too (they may import the eMSP; the eMSP never
imports them).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import simplejson
from simplejson import encoder as _encoder

_KEY_MEMO_MAX = 4096  # keys' encoded forms kept between calls (bounded: a payload may bring new keys)
# Texts `wrote_compact` keeps (see there): the trace asks about a text right after it was written,
# so few suffice; each is a whole OCPI body (~1 KiB) held until it leaves.
_WRITTEN_MAX = 128


def reused(encoder: simplejson.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode`, cheaper. Falls back to it where the C encoder is not used (no speedups, a
    non-UTF-8 encoding) and for a bare string (encode's own shortcut)."""
    make = getattr(_encoder, "c_make_encoder", None)  # None without the C speedups
    if make is None or encoder.encoding not in (None, "utf-8"):
        return encoder.encode
    # What iterencode keeps per call. The memo only maps a key to its encoded text (a pure
    # function), so keeping it between calls changes no output. The markers (circular-reference
    # check) are emptied again by every call that completes; one that raised may leave some behind.
    markers: dict[int, Any] | None = {} if encoder.check_circular else None
    key_memo: dict[Any, str] = {}
    escape = _encoder.encode_basestring_ascii if encoder.ensure_ascii else _encoder.encode_basestring
    bitcount = 53 if encoder.bigint_as_string else encoder.int_as_string_bitcount
    # With iterable_as_array, iterating would take tuples before `default`: settings kept as they are.
    moved = not encoder.iterable_as_array
    chunks_of = make(
        markers,
        _tuples_in_default(encoder) if moved else encoder.default,
        escape,
        encoder.indent,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
        key_memo,
        encoder.use_decimal,
        encoder.namedtuple_as_object and not moved,  # else in `default` (see _tuples_in_default)
        encoder.tuple_as_array and not moved,
        bitcount,
        encoder.item_sort_key,
        encoder.encoding,
        encoder.for_json,
        encoder.ignore_nan,
        decimal.Decimal,
        encoder.iterable_as_array,
    )
    whole = encoder.encode

    def encode(value: Any) -> str:
        if isinstance(value, (str, bytes)):
            return whole(value)
        try:
            chunks = chunks_of(value, 0)
        except BaseException:
            if markers:
                markers.clear()
            raise
        finally:
            if len(key_memo) > _KEY_MEMO_MAX:
                key_memo.clear()
        return "".join(chunks)

    return encode


def _tuples_in_default(encoder: simplejson.JSONEncoder) -> Callable[[Any], Any]:
    """`encoder.default`, first writing what the encoder's `namedtuple_as_object` and
    `tuple_as_array` would: an object with an `_asdict` method as the dict it returns, a tuple as
    a list. The C encoder built with both off reaches `default` only with values it cannot write
    itself, tuples among them, and no longer looks for `_asdict` on every dict, list and Decimal.
    Same text, but for a dict or list (subclass) with an `_asdict` method, now written as itself."""
    as_object, as_array, fallback = encoder.namedtuple_as_object, encoder.tuple_as_array, encoder.default

    def default(value: Any) -> Any:
        if as_object:
            method = getattr(value, "_asdict", None)
            if callable(method):
                mapping = method()
                if not isinstance(mapping, dict):
                    raise TypeError(f"_asdict() must return a dict, not {type(mapping).__name__}")
                return mapping
        if as_array and isinstance(value, tuple):
            return list(value)
        return fallback(value)

    return default


# The texts `wrote_compact` was told of lately, by identity: the OCPI bodies our compact encoders
# (emsp.wire.dumps's settings: allow_nan off, no indent, strings escaped) wrote, so strict JSON on one
# line with nothing around it. A reader that must know that (the sim's wire trace) takes such a text
# as it is instead of parsing it again. Holding the text keeps its id from being reused while it is
# listed; bounded, and a text no longer listed is only checked as before. Identity, not equality:
# an equal text from elsewhere is no proof of where it came from. The oldest text leaves first (a
# dict keeps insertion order), so the list stays full once filled instead of swinging between empty
# and ~1 MB (1,024 texts emptied when full), and a text just written is always there.
_written: dict[int, str] = {}


def wrote_compact(text: str) -> str:
    """Remember that `text` (this very object) is compact JSON one of our encoders wrote; returns it."""
    if len(_written) >= _WRITTEN_MAX:
        del _written[next(iter(_written))]
    _written[id(text)] = text
    return text


def written_compact(text: str) -> bool:
    """Whether `text` (this very object) is one `wrote_compact` was told of lately."""
    return _written.get(id(text)) is text

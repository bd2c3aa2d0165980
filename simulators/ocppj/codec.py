"""OCPP-J framing (RPC framework) with validation against the official JSON schemas.

Every frame we emit and every frame we accept passes the schema shipped in the `ocpp` package
(design principle 3). Remote faults raise `FrameError` carrying the CALLERROR code of the version;
faults in our own payloads raise `LocalProtocolError` (h11's local/remote split) because they are bugs
here, never something to answer on the wire.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, Literal

import fastjsonschema
import simplejson

from emsp.json_text import reused
from simulators.ocppj.schema_check import compiled
from simulators.ocppj.timestamps import is_date_time
from simulators.ocppj.vouched import VOUCHED, Validator, reads_back_same

OcppVersion = Literal["1.6", "2.0.1"]
Payload = dict[str, Any]

CALL, CALLRESULT, CALLERROR = 2, 3, 4


def subprotocol(version: OcppVersion) -> str:
    """WebSocket subprotocol; also the `proto` name of OCPP frames in the wire trace."""
    return "ocpp1.6" if version == "1.6" else "ocpp2.0.1"


# CALLERROR codes by version, as data. OCPP-J 1.6 §4.2.3 table 7 keeps two typos ("FormationViolation",
# "OccurenceConstraintViolation"; errata 5.1/5.2: will not be fixed). OCPP 2.0.1 part 4 §4.3 fixes the
# first only; "OccurrenceConstraintViolation" is spelled right from 2.1 on (see ocpp.exceptions). 2.0.1
# adds RpcFrameworkError (message not a valid RPC frame) and MessageTypeNotSupported; 1.6 has neither
# and answers both with FormationViolation.
ErrorKind = Literal["format", "occurrence", "type", "property", "rpc", "message_type", "not_implemented"]
ERROR_CODES: Mapping[OcppVersion, Mapping[ErrorKind, str]] = {
    "1.6": {
        "format": "FormationViolation",
        "occurrence": "OccurenceConstraintViolation",
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
        "rpc": "FormationViolation",
        "message_type": "FormationViolation",
        "not_implemented": "NotImplemented",
    },
    "2.0.1": {
        "format": "FormatViolation",
        "occurrence": "OccurenceConstraintViolation",
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
        "rpc": "RpcFrameworkError",
        "message_type": "MessageTypeNotSupported",
        "not_implemented": "NotImplemented",
    },
}

# Which JSON-schema keyword failed -> which constraint class of the OCPP-J error table.
_RULE_KIND: Mapping[str, ErrorKind] = {
    "required": "occurrence",
    "minItems": "occurrence",
    "maxItems": "occurrence",
    "type": "type",
    "additionalProperties": "format",  # a field the PDU does not define: structure, not a value
}

# OCPP-J 1.6 §4.1.3 and 2.0.1 part 4 §4.1.4: the message id is a string of at most 36 characters.
MAX_UNIQUE_ID = 36
_ACTION = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: Payload
    action: str


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    error_code: str
    error_description: str
    error_details: Payload = field(default_factory=dict)


Message = Call | CallResult | CallError


# The messageId of a CALLERROR answering a frame whose own id could not be read (OCPP 2.0.1 part 4
# §4.2.3). OCPP-J 1.6 names no id for that case; the same "-1" is used, so the sender still learns
# its frame was refused (an answer to none of its CALLs, which it drops).
UNREADABLE_ID = "-1"


class FrameError(Exception):
    """A frame from the peer is invalid. `reply` says whether a CALLERROR must answer it: a CALL (or
    an unknown message type) is, a CALLRESULT or CALLERROR never is (1.6 §4.2.3). `unique_id` is the
    frame's own id, None when it could not be read; then the answer carries `UNREADABLE_ID`."""

    def __init__(self, error_code: str, description: str, unique_id: str | None, *, reply: bool = True):
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.unique_id = unique_id
        self.reply = reply

    @property
    def reply_id(self) -> str:
        """The messageId of the CALLERROR answering this frame (when `reply`)."""
        return self.unique_id if self.unique_id is not None else UNREADABLE_ID


class LocalProtocolError(ValueError):
    """We were about to emit an invalid frame: a bug on our side."""


def _schema_dir(version: OcppVersion) -> Any:
    return resources.files("ocpp") / ("v16" if version == "1.6" else "v201") / "schemas"


def _schema_name(version: OcppVersion, action: str, response: bool) -> str:
    if response:
        return f"{action}Response"
    return action if version == "1.6" else f"{action}Request"


# Pure caches (same input, same output; no state to reset between runs), so process-wide is fine:
# each schema is read and compiled once per (version, action, direction) on first use.
@functools.cache
def _validator(version: OcppVersion, action: str, response: bool) -> Callable[[Any], Any] | None:
    if not _ACTION.match(action):
        return None
    entry = _schema_dir(version) / f"{_schema_name(version, action, response)}.json"
    if not entry.is_file():
        return None
    schema = _without_multiple_of(json.loads(entry.read_text(encoding="utf-8-sig")))
    # Formats as the `ocpp` package's validator reads them: a timestamp without a zone, or with a
    # lower-case `z`, is schema-valid there, so it is here; but it must name a real instant
    # (timestamps.py), which a shape alone does not check.
    return compiled(schema, formats={"date-time": is_date_time})


def _without_multiple_of(node: Any) -> Any:
    """The schema without `multipleOf` (1.6 charging limits: 0.1). fastjsonschema checks it by dividing
    the value by a float, which raises TypeError on the Decimal numbers we parse and write; a limit of
    more decimals is read as it is (and ours are rounded to 0.1 before they are written)."""
    if isinstance(node, dict):
        return {k: _without_multiple_of(v) for k, v in node.items() if k != "multipleOf"}
    if isinstance(node, list):
        return [_without_multiple_of(v) for v in node]
    return node


def _describe(exc: fastjsonschema.JsonSchemaValueException) -> str:
    # fastjsonschema names the validated value "data"; on the wire it is the payload.
    return exc.message.replace("data", "payload", 1)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Codec:
    """Encoder/decoder for one OCPP version. Stateless: pending calls are passed in."""

    def __init__(self, version: OcppVersion) -> None:
        self.version: OcppVersion = version
        self.codes = ERROR_CODES[version]

    # -- encoding (our frames) --------------------------------------------------------------------
    def check_call(self, action: str, payload: Payload) -> None:
        """What encode_call checks of a CALL (the payload against its schema), without writing the
        frame: a CALL validated before it is queued is written only when it is sent."""
        self._check_local(action, payload, response=False)

    def encode_call(self, unique_id: str, action: str, payload: Payload) -> str:
        validate = self._check_local(action, payload, response=False)
        if type(payload) is dict and not payload:  # Heartbeat and other empty CALLs: see _STRING
            text = f"[{CALL},{_STRING(self._check_id(unique_id))},{_STRING(action)},{{}}]"
        else:
            text = _ENCODE([CALL, self._check_id(unique_id), action, payload])
        return _vouch(text, payload, validate)

    def encode_result(self, unique_id: str, action: str, payload: Payload) -> str:
        validate = self._check_local(action, payload, response=True)
        if type(payload) is dict and not payload:  # the many empty acknowledgements
            text = f"[{CALLRESULT},{_STRING(self._check_id(unique_id))},{{}}]"
        else:
            text = _ENCODE([CALLRESULT, self._check_id(unique_id), payload])
        return _vouch(text, payload, validate)

    def encode_error(
        self, unique_id: str, code: str, description: str, details: Payload | None = None
    ) -> str:
        return self._dump([CALLERROR, unique_id, code, description, details or {}])

    def answer_invalid(self, exc: FrameError) -> str | None:
        """The CALLERROR answering the peer's invalid frame: under its own messageId, or
        UNREADABLE_ID when that could not be read; None when no answer is due (one to an answer)."""
        return self.encode_error(exc.reply_id, exc.error_code, exc.description) if exc.reply else None

    # -- decoding (peer frames) -------------------------------------------------------------------
    def decode(self, text: str, *, pending: Mapping[str, str]) -> Message:
        """Parse and validate one frame. `pending` maps the ids of our outstanding CALLs to their
        action, which tells which response schema a CALLRESULT must match."""
        try:
            if type(text) is str and not text.startswith("\ufeff"):
                frame = _decode(text)
            else:  # bytes, or a BOM: json.loads's own handling (and messages)
                frame = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except ValueError as exc:
            raise self._not_json(text, exc) from None
        except RecursionError:  # [[[[...]]]] nested past the interpreter's stack: the peer's error
            raise FrameError(self.codes["rpc"], "not JSON: nested too deeply", None) from None
        if not isinstance(frame, list) or len(frame) < 3:
            description = "a frame is a JSON array of 3 to 5 elements"
            raise FrameError(self.codes["rpc"], description, None, reply=_may_be_call(frame))
        kind, uid = frame[0], frame[1]
        unique_id = uid if isinstance(uid, str) and 0 < len(uid) <= MAX_UNIQUE_ID else None
        if unique_id is None:
            description = "message id is not a string of 1..36 chars"
            raise FrameError(self.codes["rpc"], description, None, reply=_may_be_call(frame))
        # The validator a frame of ours passed when written (vouched.py); None: validate it here.
        vouched = VOUCHED.get()
        passed = vouched.pop(text, None) if vouched is not None and type(text) is str else None
        if type(kind) is int and kind == CALL:  # type() rather than isinstance: no bool, no 2.0
            return self._decode_call(frame, unique_id, passed)
        if type(kind) is int and kind == CALLRESULT:
            return self._decode_result(frame, unique_id, pending, passed)
        if type(kind) is int and kind == CALLERROR:
            return self._decode_error(frame, unique_id)
        raise FrameError(self.codes["message_type"], f"unknown message type {kind!r}", unique_id)

    def _decode_call(self, frame: list[Any], unique_id: str, passed: Validator | None = None) -> Call:
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            raise FrameError(self.codes["rpc"], "CALL is [2, id, action, {payload}]", unique_id)
        action, payload = frame[2], frame[3]
        validate = _validator(self.version, action, False)
        if validate is None:
            raise FrameError(self.codes["not_implemented"], f"unknown action {action!r}", unique_id)
        if passed is not validate:
            self._check_remote(validate, payload, unique_id, reply=True)
        return Call(unique_id, action, payload)

    def _decode_result(
        self, frame: list[Any], unique_id: str, pending: Mapping[str, str], passed: Validator | None = None
    ) -> CallResult:
        # A CALLRESULT or CALLERROR is never answered with a CALLERROR (1.6 §4.2.3), hence reply=False.
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(self.codes["rpc"], "CALLRESULT is [3, id, {payload}]", unique_id, reply=False)
        action = pending.get(unique_id)
        if action is None:
            raise FrameError(self.codes["rpc"], "CALLRESULT for no pending CALL", unique_id, reply=False)
        validate = _validator(self.version, action, True)
        assert validate is not None, "pending actions were validated when sent"
        if passed is not validate:
            self._check_remote(validate, frame[2], unique_id, reply=False)
        return CallResult(unique_id, frame[2], action)

    def _decode_error(self, frame: list[Any], unique_id: str) -> CallError:
        shape_ok = len(frame) == 5 and all(isinstance(x, str) for x in frame[2:4])
        if not shape_ok or not isinstance(frame[4], dict):
            raise FrameError(
                self.codes["rpc"],
                "CALLERROR is [4, id, code, description, {details}]",
                unique_id,
                reply=False,
            )
        return CallError(unique_id, frame[2], frame[3], frame[4])

    # -- helpers ------------------------------------------------------------------------------------
    def _not_json(self, text: str, exc: ValueError) -> FrameError:
        """The error for a frame that is not JSON. When only a constant of Python's JSON dialect
        (NaN, Infinity: what a sender's 1e400 float becomes) breaks it, the id is still readable:
        a CALL gets its CALLERROR, as for any malformed payload (a payload fault, not an RPC one)."""
        try:
            frame = _DECODE_LENIENT(text)
        except (ValueError, RecursionError):
            return FrameError(self.codes["rpc"], f"not JSON: {exc}", None)
        uid = frame[1] if isinstance(frame, list) and len(frame) >= 3 else None
        if not isinstance(uid, str) or not 0 < len(uid) <= MAX_UNIQUE_ID:
            return FrameError(self.codes["rpc"], f"not JSON: {exc}", None, reply=_may_be_call(frame))
        is_call = type(frame[0]) is int and frame[0] == CALL
        return FrameError(self.codes["format"], f"not JSON: {exc}", uid, reply=is_call)

    def _check_remote(
        self, validate: Callable[[Any], Any], payload: Payload, unique_id: str, *, reply: bool
    ) -> None:
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            kind = _RULE_KIND.get(exc.rule or "", "property")
            raise FrameError(self.codes[kind], _describe(exc), unique_id, reply=reply) from None

    def _check_local(self, action: str, payload: Payload, *, response: bool) -> Validator:
        validate = _validator(self.version, action, response)
        if validate is None:
            raise LocalProtocolError(f"OCPP {self.version} has no action {action!r}")
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise LocalProtocolError(f"{action}{'Response' if response else ''}: {_describe(exc)}") from None
        return validate

    @staticmethod
    def _check_id(unique_id: str) -> str:
        if not 0 < len(unique_id) <= MAX_UNIQUE_ID:
            raise LocalProtocolError(f"message id {unique_id!r} must have 1..36 characters")
        return unique_id

    @staticmethod
    def _dump(frame: list[Any]) -> str:
        # simplejson writes Decimal as an exact JSON number; compact separators keep traces small.
        return _ENCODE(frame)


# json.loads(text, parse_float=..., parse_constant=...) builds a JSONDecoder per call; this is it,
# built once (the same object hooks, so the same values and the same errors).
_DECODE = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant).decode
# Its scanner: one JSON value from an index (scan_once: set in JSONDecoder.__init__, not typed).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_float=Decimal, parse_constant=_reject_constant
).scan_once


def _decode(text: str) -> Any:
    """_DECODE(text), skipping its two whitespace scans for the usual frame: one JSON value that
    fills the text. Anything else (whitespace around it, trailing data, an error) goes through
    _DECODE itself, so the result or the error is its own."""
    try:
        value, end = _SCAN(text, 0)
    except Exception:  # StopIteration, JSONDecodeError, RecursionError: _DECODE decides
        return _DECODE(text)
    return value if end == len(text) else _DECODE(text)


def _vouch(text: str, payload: Payload, validate: Validator) -> str:
    """Inside `vouched_frames()` (a sim run), record that `text` passed `validate` (vouched.py)."""
    if (vouched := VOUCHED.get()) is not None and reads_back_same(payload):
        vouched[text] = validate
    return text


def _may_be_call(frame: Any) -> bool:
    """Whether a frame with no readable id may be a CALL, and so gets a CALLERROR: anything but what
    is plainly a CALLRESULT or CALLERROR (an answer is never answered, or two peers could loop)."""
    if isinstance(frame, list) and frame and type(frame[0]) is int:
        return frame[0] not in (CALLRESULT, CALLERROR)
    return True


# Only to read the id of a frame the strict decoder refused: NaN and Infinity accepted.
_DECODE_LENIENT = json.JSONDecoder(parse_float=Decimal).decode

# Built once: simplejson.dumps with non-default options constructs a new encoder per call (a
# quarter of an encode's cost). Same options, same text.
# Frames with an empty payload ({}: most acknowledgements, every Heartbeat) are written directly:
# what _ENCODE writes for [kind, id, action, {}] is the kind, each string through the same escaping
# function it is given (encode_basestring, as ensure_ascii=False), and "{}", joined by commas. That
# skips the encoder's per-call cost, the larger part of writing so small a frame.
_STRING = simplejson.encoder.encode_basestring
_ENCODE = reused(simplejson.JSONEncoder(separators=(",", ":"), use_decimal=True, ensure_ascii=False))


@functools.cache
def codec(version: OcppVersion) -> Codec:
    """The codec of a version. A pure cache: a Codec holds no per-connection state."""
    if version not in ERROR_CODES:
        raise ValueError(f"unsupported OCPP version {version!r}")
    return Codec(version)

"""OCPP-J: framing and schema validation (`codec`), one side of a connection (`Endpoint`), meter values."""

from simulators.ocppj.codec import (
    CALL,
    CALLERROR,
    CALLRESULT,
    ERROR_CODES,
    Call,
    CallError,
    CallResult,
    Codec,
    FrameError,
    LocalProtocolError,
    Message,
    OcppVersion,
    Payload,
    codec,
    subprotocol,
)
from simulators.ocppj.endpoint import Endpoint, Incoming, PayloadSource, Tag

__all__ = [
    "CALL",
    "CALLERROR",
    "CALLRESULT",
    "ERROR_CODES",
    "Call",
    "CallError",
    "CallResult",
    "Codec",
    "Endpoint",
    "FrameError",
    "Incoming",
    "LocalProtocolError",
    "Message",
    "OcppVersion",
    "Payload",
    "PayloadSource",
    "Tag",
    "codec",
    "subprotocol",
]

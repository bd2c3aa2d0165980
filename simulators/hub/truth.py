"""What really happened at the hub, for reconciliation and settlement (DESIGN principle 5).

Every hop the hub sent, what came of it, the messages it held and resent, the fees it charged.
Times are ISO-8601 UTC strings so the truth serialises as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Hop:
    """One request the hub sent on behalf of a sender (forwarded, broadcast, or a store-and-forward retry)."""

    at: str
    correlation_id: str
    request_in: str  # the sender's X-Request-ID ("" for the hub's own retries of stored messages)
    request_out: str  # the hub's new X-Request-ID for this hop
    sender: str  # "CC/PID"
    receiver: str
    method: str
    url: str
    object_key: str
    attempt: int  # 1 for the first send, 2.. for resends


@dataclass(frozen=True, slots=True)
class Outcome:
    at: str
    request_out: str
    result: str  # "answered", "timeout", "unreachable", "late" (answered after the hub gave up)
    status: int | None  # HTTP status of the answer
    ocpi_status: int | None


@dataclass(frozen=True, slots=True)
class Fee:
    at: str
    cdr_id: str  # as the eMSP received it (the hub's id when it rewrites ids)
    original_cdr_id: str
    cpo: str
    emsp: str
    amount: Decimal
    currency: str


@dataclass(slots=True)
class HubTruth:
    hops: list[Hop] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    stored: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (at, correlation id, receiver connection)
    # A stored or timed-out message sent again after a first attempt may have reached the receiver
    # (its answer was lost): (at, request_out of the resend, object_key). The receiver may see it twice.
    resent: list[tuple[str, str, str]] = field(default_factory=list)
    # A held message that reached its receiver after all: (held since, delivered at, correlation id,
    # object_key). Its receiver got it late, maybe after newer data from elsewhere.
    late: list[tuple[str, str, str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)  # gave up: (at, request_out, why)
    client_info: list[tuple[str, str, str, str]] = field(default_factory=list)  # (at, to, party, status)
    fees: list[Fee] = field(default_factory=list)
    id_map: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, owner, original, hub id)
    refused: list[tuple[str, str, int, str]] = field(default_factory=list)  # (at, connection, code, why)
    registered: list[tuple[str, str]] = field(default_factory=list)  # (at, connection): handshakes done

"""What the mock CPO really did: the simulator side of the ground truth (principle 5)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

# A hub's own answer in the eMSP's stead (transport_and_format, Message Routing): it could not
# forward (4002 timeout) or the eMSP is offline (4003). 4001 (unknown receiver) is a routing fault.
_HUB_UNANSWERED = frozenset({"ERROR_4002", "ERROR_4003"})


def unanswered(result: str) -> bool:
    """Did the eMSP leave this authorization unanswered: no connection, a 5xx (an outage's 503), or
    a hub that could not reach it? (mod_tokens: "when the CPO cannot get a response from the eMSP")"""
    return result == "UNREACHABLE" or result.startswith("ERROR_HTTP5") or result in _HUB_UNANSWERED


def latency_decimal(ms: float) -> Decimal:
    """`ms` as a Decimal of whole microseconds (0.001 ms). A run's latencies take few distinct
    values (link delays in whole ms): records share one Decimal each (~100 B) instead of holding
    their own. Zero is not cached: 0.0 and -0.0 are one key but two texts ("0.000", "-0.000")."""
    return _latency_decimal(ms) if ms else _quantized(ms)


def _quantized(ms: float) -> Decimal:
    return Decimal(ms).quantize(_MICROSECONDS)


_MICROSECONDS = Decimal("0.001")
_latency_decimal = functools.lru_cache(maxsize=4096)(_quantized)  # pure: Decimal is immutable


@dataclass(frozen=True, slots=True)
class AuthorizationRecord:
    at: datetime
    station_id: str
    token_uid: str
    result: str  # ALLOWED, NOT_ALLOWED, BLOCKED, ..., UNKNOWN (2004), ERROR_<code>
    latency_ms: Decimal  # as the CPO saw it: request sent -> answer received


@dataclass(frozen=True, slots=True)
class SentCdr:
    cdr_id: str
    session_id: str
    station_id: str
    transaction_id: str
    energy_kwh: Decimal
    sent_at: datetime
    # No copy of the CDR's total_cost (~0.4 KiB a CDR: a dict of Decimals) and nothing else of its
    # body: no reader needs it here, and the body as sent stays in the CPO's `published` cdrs.


@dataclass(slots=True)
class CpoTruth:
    registered_at: datetime | None = None
    pushes_accepted: int = 0  # PUTs, PATCHes and CDR POSTs the eMSP answered with success
    authorizations: list[AuthorizationRecord] = field(default_factory=list)
    session_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (station, transaction) -> session
    tariff_in_effect: dict[str, tuple[str, str]] = field(default_factory=dict)  # session -> (tariff id, tz)
    # session -> [(instant, tariff id)]: a split_periods CPO's tariff changes during that session
    tariff_switches: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    cdrs: list[SentCdr] = field(default_factory=list)
    # session -> how its CDR was corrected (cdr_correction): credit_and_rebill, credit_and_rebill
    # without a credit_reference_id, or rebill_only (a CPO that sends no credit CDRs)
    corrections: dict[str, str] = field(default_factory=dict)
    # ids POSTed a second time (identical): by cdr_hold's release, or retried after a lost answer;
    # cdr_hold's ids held back and POSTed late
    cdrs_resent: list[str] = field(default_factory=list)
    cdrs_late: list[str] = field(default_factory=list)
    cdrs_withheld: list[str] = field(default_factory=list)  # never sent (a free session's CDR)
    cdr_urls: dict[str, str] = field(default_factory=dict)  # CDR id -> URL the eMSP said it has it at
    failed_calls: list[tuple[str, str, int | None, str]] = field(default_factory=list)
    # store-and-forward: (when, kind, url) of every request sent again after it failed
    resent: list[tuple[str, str, str]] = field(default_factory=list)
    # (time, kind, url) of pushes given up after a failure (dialect push_retry: drop)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

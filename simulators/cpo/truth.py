"""What the mock CPO really did: the simulator side of the ground truth (principle 5)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from simulators.instants import from_micros, to_micros

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
_KWH = Decimal(1000)
_latency_decimal = functools.lru_cache(maxsize=4096)(_quantized)  # pure: Decimal is immutable


@dataclass(frozen=True, slots=True)
class AuthorizationRecord:
    at: datetime
    station_id: str
    token_uid: str
    result: str  # ALLOWED, NOT_ALLOWED, BLOCKED, ..., UNKNOWN (2004), ERROR_<code>
    latency_ms: Decimal  # as the CPO saw it: request sent -> answer received


@dataclass(frozen=True, slots=True, init=False)
class SentCdr:
    """A CDR the CPO sent, kept all run long: its id only when it is not the usual
    "<session id>-CDR" (then derived: ~65 bytes a CDR), its sending instant as microseconds (an
    int, not a 48-byte datetime), the transaction id the caller passes (its session's own copy)."""

    own_cdr_id: str | None
    session_id: str
    station_id: str
    transaction_id: str
    energy_wh: int  # meter stop - meter start: an int (~28 B) where a kWh Decimal is ~104 B a CDR
    sent_micros: int
    # No copy of the CDR's total_cost (~0.4 KiB a CDR: a dict of Decimals) and nothing else of its
    # body: no reader needs it here, and the body as sent stays in the CPO's `published` cdrs.

    def __init__(
        self,
        cdr_id: str,
        session_id: str,
        station_id: str,
        transaction_id: str,
        energy_wh: int,
        sent_at: datetime,
    ) -> None:
        put = object.__setattr__
        put(self, "own_cdr_id", None if cdr_id == session_id + _CDR_SUFFIX else cdr_id)
        put(self, "session_id", session_id)
        put(self, "station_id", station_id)
        put(self, "transaction_id", transaction_id)
        put(self, "energy_wh", energy_wh)
        put(self, "sent_micros", to_micros(sent_at))

    @property
    def cdr_id(self) -> str:
        return self.session_id + _CDR_SUFFIX if self.own_cdr_id is None else self.own_cdr_id

    @property
    def sent_at(self) -> datetime:
        moment = from_micros(self.sent_micros)
        assert moment is not None  # always given
        return moment

    @property
    def energy_kwh(self) -> Decimal:
        """The CDR's energy as the CPO computed it (the same Decimal division, so the same digits)."""
        return Decimal(self.energy_wh) / _KWH


_CDR_SUFFIX = "-CDR"  # simulators.cpo.ocpi_objects: a CDR's id is its session's with this suffix


class CdrUrls(Mapping[str, str]):
    """CDR id -> the URL the eMSP said it has it at, one per CDR: kept as a shared prefix when the
    URL is that prefix followed by the id (as an eMSP's CDR URL usually is), so a long run holds one
    copy of "https://emsp/ocpi/2.2.1/cdrs/DE/CPA/" instead of one per CDR (~0.1 KiB each)."""

    __slots__ = ("_prefixes", "_urls", "_whole")

    def __init__(self) -> None:
        self._prefixes: dict[str, str] = {}  # each distinct prefix, once
        self._urls: dict[str, str] = {}  # CDR id -> its URL's prefix (or whole URL, see _whole)
        self._whole: set[str] = set()  # ids whose URL does not end in the id: stored whole

    def __setitem__(self, cdr_id: str, url: str) -> None:
        if cdr_id and url.endswith(cdr_id):
            prefix = url[: -len(cdr_id)]
            self._urls[cdr_id] = self._prefixes.setdefault(prefix, prefix)
            self._whole.discard(cdr_id)
        else:
            self._urls[cdr_id] = url
            self._whole.add(cdr_id)

    def __getitem__(self, cdr_id: str) -> str:
        stored = self._urls[cdr_id]
        return stored if cdr_id in self._whole else stored + cdr_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._urls)

    def __len__(self) -> int:
        return len(self._urls)


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
    # Sessions this CPO priced as the spec reads its tariff (its dialect's reading is the spec's, or
    # across a tariff switch), compared with the ground truth as they were priced (bench/spec_guard.py):
    # how many, and a sentence for each that disagreed beyond the tolerance (the run is then aborted).
    # Nothing is kept for a session that agreed.
    spec_checked: int = 0
    disagreements: list[str] = field(default_factory=list)
    # session -> how its CDR was corrected (cdr_correction): credit_and_rebill, credit_and_rebill
    # without a credit_reference_id, or rebill_only (a CPO that sends no credit CDRs)
    corrections: dict[str, str] = field(default_factory=dict)
    # ids POSTed a second time (identical): by cdr_hold's release, or retried after a lost answer;
    # cdr_hold's ids held back and POSTed late
    cdrs_resent: list[str] = field(default_factory=list)
    cdrs_late: list[str] = field(default_factory=list)
    # ids of CDR POSTs the runtime's link served twice (a `link` event's `duplicate`: a client retry
    # below this party's OCPI logic); the receiver got the same content twice, as for cdrs_resent
    cdrs_link_duplicated: list[str] = field(default_factory=list)
    # ids of CDR POSTs the receiver answered with a refusal (an OCPI error, not a failure sent
    # again), once per refused copy: a repeat of a CDR it holds no copy of is none it could recognise
    cdrs_refused: list[str] = field(default_factory=list)
    cdrs_withheld: list[str] = field(default_factory=list)  # never sent (a free session's CDR)
    cdr_urls: CdrUrls = field(default_factory=CdrUrls)  # CDR id -> URL the eMSP said it has it at
    failed_calls: list[tuple[str, str, int | None, str]] = field(default_factory=list)
    # store-and-forward: (when, kind, url) of every request sent again after it failed
    resent: list[tuple[str, str, str]] = field(default_factory=list)
    # (time, kind, url) of pushes given up after a failure (dialect push_retry: drop)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

"""What the mock CSMS (csms.py) keeps per station connection, what it puts out, and the helpers its
1.6 and 2.0.1 handlers share: taken out of csms.py to keep it to the protocol's handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from simulators.cpo.events import CsmsEvent, TransactionStarted
from simulators.ocppj import Endpoint, OcppVersion, Payload
from simulators.ocppj.meter import off_outlet_energy
from simulators.ocppj.timestamps import parse_timestamp

# How many of a station's latest ended transactions are remembered (Link.ended). A repeat is a
# station resending a transaction message whose answer it lost; a station delivers its transaction
# messages in order, retrying each until answered (1.6 and 2.0.1 alike), so a repeat comes
# before the messages of its later transactions, and eight later ends are a wide margin. Bounded so
# a station's record does not grow with every transaction it ever had.
ENDED_KEPT = 8


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The station's answer to a CSMS-initiated CALL: `payload` (CALLRESULT) or `error` (the
    CALLERROR code, "InvalidAnswer" for an answer that failed its schema, "Timeout")."""

    ref: str
    station_id: str
    action: str
    payload: Payload | None
    error: str | None
    description: str
    at: datetime


@dataclass(slots=True)  # not frozen: one per frame, and a frozen init costs a setattr per field
class CsmsOutput:
    frames: list[tuple[str, str]] = field(default_factory=list)  # (station_id, frame text)
    events: list[CsmsEvent] = field(default_factory=list)
    answers: list[CallAnswered] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # why a frame from the station was refused
    # What the CSMS noticed of what a station sent or did: a message answered but changing nothing (a
    # repeated StopTransaction), a transaction taken up or ended by a version change, ...
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Link:
    station_id: str
    version: OcppVersion
    endpoint: Endpoint
    charging: dict[str, bool] = field(default_factory=dict)  # transaction id -> EV drawing power
    by_connector: dict[int, str] = field(default_factory=dict)  # 1.6: connector -> transaction id
    last_energy: dict[str, int] = field(default_factory=dict)  # transaction id -> last register
    # Transaction id -> instant of its latest sample: an older one arriving late (an offline replay
    # out of order, a resend) must not move the register back.
    sampled_at: dict[str, datetime] = field(default_factory=dict)
    # Transaction id -> (register, time) at its start, while in progress: an end is checked against
    # it (and in 1.6 applied once, to one of these)
    begun: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the next CsmsOutput
    # 2.0.1: transactions started without an idToken (TxStartPoint EVConnected), reported once it comes
    unidentified: dict[str, TransactionStarted] = field(default_factory=dict)
    # The latest transactions ended here (at most ENDED_KEPT, oldest first; dict as an ordered set).
    # A later message for one is a repeat, never a transaction to take up (2.0.1: one whose Started
    # was not seen is learned from its other events, _learn; 1.6: _stop16).
    ended: dict[str, None] = field(default_factory=dict)
    # 2.0.1: EVSE id -> its connectors' latest status; transaction id -> its EVSE (for _learn)
    evse_status: dict[int, str] = field(default_factory=dict)
    evse_of: dict[str, int] = field(default_factory=dict)
    # Version -> `ended` of the version the station spoke before (its ids mean nothing in the
    # other), back in use when it returns to that version (_version_changed).
    ended_before: dict[OcppVersion, dict[str, None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Held:
    station_id: str
    endpoint: Endpoint
    unique_id: str
    token_uid: str


def event_time(payload: Payload, key: str, now: datetime) -> datetime:
    """The payload's timestamp, or `now` when it is absent (an optional field). A present one names a
    real instant: the codec refused month 13 or Feb 30 before the handler ran (timestamps.py)."""
    value = payload.get(key)
    return (parse_timestamp(value) if isinstance(value, str) else None) or now


def end_after_start(link: Link, tx: str, at: datetime, meter_stop: int) -> tuple[datetime, int]:
    """The end of a transaction as recorded: a register never runs back and a transaction never ends
    before it began, so a stop below the start register or before the start time is noted and taken
    as the start (no energy, no duration; never a negative one). The message is answered anyway."""
    begun = link.begun.pop(tx, None)
    if begun is None:
        return at, meter_stop
    meter_start, started_at = begun
    if meter_stop < meter_start:
        link.notes.append(f"transaction {tx}: stop register {meter_stop} Wh below its start {meter_start} Wh")
        meter_stop = meter_start
    if at < started_at:
        link.notes.append(
            f"transaction {tx}: ends at {at.isoformat()}, before its start {started_at.isoformat()}"
        )
        at = started_at
    return at, meter_stop


def note_off_outlet(link: Link, what: str, values: Sequence[Payload]) -> None:
    """Note a message whose energy register is only off the Outlet (e.g. Inlet): it is not counted
    (delivered energy is the Outlet register, meter.py), so its transaction shows no energy, and
    the user must see why."""
    for value in values:
        location = off_outlet_energy(value)
        if location is not None:
            link.notes.append(
                f"{what}: its energy register is at {location}, not at the Outlet: not counted as"
                " delivered energy"
            )
            return


def mark_ended(link: Link, tx: str) -> None:
    link.ended[tx] = None
    if len(link.ended) > ENDED_KEPT:
        del link.ended[next(iter(link.ended))]


class CsmsCalls(Protocol):
    """What a version's handlers outside csms.py (csms_v201.py) call on the CSMS: typed here so that
    module need not import csms.py, which imports it for its handler table."""

    def take_samples(self, link: Link, tx: str, values: list[Payload], events: list[CsmsEvent]) -> None: ...

    def charging_changed(
        self, link: Link, tx: str, charging: bool, at: datetime, events: list[CsmsEvent]
    ) -> None: ...

    def id_info(self, version: OcppVersion, token: str) -> Payload: ...

"""The mock CSMS's OCPP 2.0.1 transaction handlers (csms.py's handler table): TransactionEvent,
with its transaction taken up when its Started never came, StatusNotification and MeterValues."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from emsp.timeutil import format_utc
from simulators.cpo.csms_link import CsmsCalls, Link, end_after_start, event_time, mark_ended, note_off_outlet
from simulators.cpo.events import ConnectorStatusChanged, CsmsEvent, TransactionEnded, TransactionStarted
from simulators.ocppj import Payload
from simulators.ocppj.meter import read_sample
from simulators.ocppj.signed import read_signed


def meter201(
    csms: CsmsCalls, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]
) -> Payload:
    return {}  # 2.0.1 MeterValues carry no transaction (those go in TransactionEvent): nothing to report


def status201(
    csms: CsmsCalls, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]
) -> Payload:
    at = event_time(payload, "timestamp", now)
    link.evse_status[payload["evseId"]] = payload["connectorStatus"]
    events.append(ConnectorStatusChanged(link.station_id, payload["evseId"], payload["connectorStatus"], at))
    return {}


def _learn(
    link: Link, payload: Payload, tx: str, at: datetime, token: str | None, events: list[CsmsEvent]
) -> bool:
    """Take up a transaction from an Updated or Ended event whose Started never came here (lost, or
    sent before this CSMS ran). Our reading of 2.0.1 E01-E07: every TransactionEvent carries the
    transactionInfo naming its transaction, and seqNo is there so a CSMS can tell it missed one;
    nothing makes the Started a precondition. The session and its energy are real, so it is
    reported. Its start is the best evidence at hand: the Transaction.Begin reading if the event
    carries one (an Ended may hold all the transaction's samples, SampledDataTxEndedMeasurands),
    else the earliest reading in the event (energy before it is unknown, so not billed). True:
    taken up; False: an Updated with no energy reading, nothing to start from (a later event will
    do)."""
    readings: list[tuple[bool, datetime, int]] = []
    for value in payload.get("meterValue", []):
        energy = read_sample("2.0.1", value)[0]
        if energy is not None:
            begin = any(v.get("context") == "Transaction.Begin" for v in value["sampledValue"])
            readings.append((not begin, event_time(value, "timestamp", at), energy))
    if not readings and payload["eventType"] == "Updated":
        link.notes.append(
            f"TransactionEvent Updated for unknown transaction {tx}, without a register: ignored"
        )
        return False
    # No reading at all (an Ended without meter values): it happened, its energy is unknown.
    _later, start_at, start = min(readings) if readings else (True, at, 0)
    evse = payload["evse"]["id"] if "evse" in payload else _free_evse(link)
    link.notes.append(
        f"TransactionEvent {payload['eventType']} (seqNo {payload['seqNo']}) for transaction {tx},"
        f" whose Started never came: taken up, started {format_utc(start_at)} at {start} Wh"
    )
    _begin201(link, tx, evse, token, start, start_at, payload["transactionInfo"], events)
    return True


def _free_evse(link: Link) -> int:
    """The EVSE of a transaction learned without one (2.0.1 sends `evse` once, with the first
    event on it): the one Occupied EVSE that holds no known transaction; 0 (the station) if none
    or several."""
    busy = set(link.evse_of.values())
    free = [e for e, status in link.evse_status.items() if status == "Occupied" and e not in busy]
    return free[0] if len(free) == 1 else 0


def _begin201(
    link: Link,
    tx: str,
    evse: int,
    token: str | None,
    start: int,
    at: datetime,
    info: Payload,
    events: list[CsmsEvent],
) -> None:
    link.charging[tx] = info.get("chargingState") in (None, "Charging")
    link.last_energy[tx] = start
    link.begun[tx] = (start, at)
    link.evse_of[tx] = evse
    started = TransactionStarted(link.station_id, evse, tx, token or "", start, at)
    if token is not None:
        events.append(started)
    else:
        # E03 (start at plug-in): the idToken comes with a later event; report the start then.
        link.unidentified[tx] = started


def transaction_event(
    csms: CsmsCalls, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]
) -> Payload:
    info, kind = payload["transactionInfo"], payload["eventType"]
    tx, at = info["transactionId"], event_time(payload, "timestamp", now)
    values: list[Payload] = payload.get("meterValue", [])
    state = info.get("chargingState")
    # An idToken identifies the transaction, also one of type NoAuthorization (free vend), whose
    # idToken is empty: only a start without any (E03, at plug-in) waits for a later one.
    token = payload["idToken"]["idToken"] if "idToken" in payload else None
    note_off_outlet(link, f"TransactionEvent {kind} for transaction {tx}", values)
    in_progress = tx in link.last_energy or tx in link.unidentified
    if kind != "Started" and not in_progress and tx not in link.ended:
        in_progress = _learn(link, payload, tx, at, token, events)
    if kind == "Started" and in_progress:
        # A repeated Started (a retry after a lost answer): the transaction keeps its first start
        # (an idToken it brings still identifies a start at plug-in, below).
        link.notes.append(f"TransactionEvent Started for transaction {tx}, already in progress: ignored")
    if kind == "Started" and not in_progress:
        start = next((e for e in (read_sample("2.0.1", v)[0] for v in values) if e is not None), 0)
        evse = payload.get("evse", {}).get("id", 0)
        if "evse" in payload and evse <= 0:  # EVSEType.id: "a number (> 0)"; 0 is the station
            link.notes.append(f"TransactionEvent Started on EVSE {evse}: a transaction needs an EVSE > 0")
        _begin201(link, tx, evse, token, start, at, info, events)
    elif kind == "Updated" and not in_progress and tx in link.ended:
        # Samples of an ended transaction: its stop is final.
        link.notes.append(f"TransactionEvent Updated for transaction {tx}, not in progress: ignored")
    elif token is not None and tx in link.unidentified:
        events.append(replace(link.unidentified.pop(tx), token_uid=token))
    if kind == "Updated" and in_progress:
        if state is not None:
            csms.charging_changed(link, tx, state == "Charging", at, events)
        csms.take_samples(link, tx, values, events)
    elif kind == "Ended" and not in_progress:
        # Ended here already (a repeat after a lost answer): answered, no effect.
        link.notes.append(f"TransactionEvent Ended for transaction {tx}, not in progress: ignored")
    elif kind == "Ended":
        if tx in link.unidentified:  # never identified: still a transaction that happened
            events.append(link.unidentified.pop(tx))
        stops = [e for e in (read_sample("2.0.1", v)[0] for v in values) if e is not None]
        meter_stop = stops[-1] if stops else link.last_energy.pop(tx, 0)
        link.charging.pop(tx, None)
        link.last_energy.pop(tx, None)
        link.sampled_at.pop(tx, None)
        link.evse_of.pop(tx, None)
        mark_ended(link, tx)
        at, meter_stop = end_after_start(link, tx, at, meter_stop)
        # 2.0.1 TransactionType.stoppedReason: may only be omitted when the reason is "Local".
        signed = tuple(r for v in values for r in read_signed("2.0.1", v))
        reason = info.get("stoppedReason", "Local")
        events.append(TransactionEnded(link.station_id, tx, at, meter_stop, reason, signed))
    if "idToken" in payload:
        return {"idTokenInfo": csms.id_info("2.0.1", payload["idToken"]["idToken"])}
    return {}

"""Assemble the ground truth of a run from the simulators' own records (principle 5).

Stations know what physically happened (energy, times); the mock CPO knows which OCPI session a
transaction became and which tariff was in effect. The truthful price is that tariff applied to the
physical delivery — constant power while charging, then parked — through the same tariff engine.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from bench.spec_guard import BenchDisagreement, physical_price
from bench.world import World
from emsp.model import PartyRef
from emsp.reconciliation import TruthSession
from emsp.timeutil import format_utc
from simulators.cpo.truth import unanswered
from simulators.station.charge_truth import ChargeTruth

KWH = Decimal(1000)


def _answers(world: World) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """(station, token) -> when each of its authorizations was answered, and how, in time order."""
    answers: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for cpo in world.cpos.values():
        for record in cpo.ocpi.truth.authorizations:
            answers.setdefault((record.station_id, record.token_uid), []).append((record.at, record.result))
    for of_one in answers.values():
        of_one.sort()
    return answers


def _answer(
    answers: dict[tuple[str, str], list[tuple[datetime, str]]], station_id: str, token: str, plugged: datetime
) -> tuple[datetime, str] | None:
    """When and how this visit's authorization was answered ("ALLOWED", "UNREACHABLE",
    "ERROR_HTTP503", a hub's "ERROR_4003", the CPO's own "WHITELIST", ...), None if it was never
    asked. The visit's authorization is the first of its station and token at or after the plug-in
    (a driver waits for it before charging or leaving)."""
    for at, result in answers.get((station_id, token), ()):
        if at >= plugged:
            return at, result
    return None


def _left_first(charge: ChargeTruth, answered: tuple[datetime, str] | None) -> str | None:
    """The refusal detail (`driver_left ...`) of a visit whose driver unplugged before the station
    could start it although the eMSP allowed the token (its ALLOWED reached the CPO, after the driver
    had gone): no charge, and not the eMSP's failure, so graded refused_at_station; the detail says
    how long each took (a slow answer is for the latency figures to grade). None otherwise: a
    refusal, or no answer at all, is graded as before (an app start the eMSP never sent keeps
    counting against it)."""
    if charge.authorized or charge.unplugged_at is None or answered is None:
        return None
    at, result = answered
    if result not in ("ALLOWED", "WHITELIST"):
        return None
    stayed = (charge.unplugged_at - charge.plugged_at).total_seconds()
    took = (at - charge.plugged_at).total_seconds()
    return f"driver_left: unplugged after {stayed:g} s, {result} reached the CPO after {took:g} s"


# A CommandResponse that never came from the CPO: no connection (599), a 5xx (an outage's 503), or
# a hub's own answer that it could not reach the party (4002 timeout, 4003 offline).
_NOT_REACHED = re.compile(r"HTTP (599|5\d\d)(, OCPI \d+)?|HTTP \d+, OCPI 400[23]")


def _start_unreachable(world: World) -> dict[tuple[str, int, str, datetime], str]:
    """(station, connector, token, plug-in second) -> why the visit's app start (START_SESSION)
    failed without reaching the CPO, as the eMSP recorded it."""
    out = {}
    for start in world.app_starts:
        if start.command_id is None:
            continue
        command = world.emsp.command(start.command_id)
        message = str(command.get("message") or "") if command is not None else ""
        if command is not None and command["state"] == "FAILED" and _NOT_REACHED.fullmatch(message):
            key = (start.station_id, start.connector_id, start.token_uid, start.at.replace(microsecond=0))
            out[key] = f"START_SESSION {start.command_id} FAILED: {message}"
    return out


def truth_sessions(world: World) -> list[TruthSession]:
    """The ground truth of every visit. Raises BenchDisagreement when a mock CPO priced a session
    as the spec reads its tariff and the truth came to another cost (bench/spec_guard.py)."""
    for cpo in world.cpos.values():
        if cpo.ocpi.truth.disagreements:
            raise BenchDisagreement(cpo.ocpi.truth.disagreements[0])
    known = {uid for d in world.drivers if d.known for uid in d.uids()}
    answers = _answers(world)
    lost_starts = _start_unreachable(world)
    sessions: list[TruthSession] = []
    for station_id, station in world.stations.items():
        cpo = world.cpos[world.cpo_of(station_id)]
        for charge in station.truth:
            session_id = None
            if charge.transaction_id is not None:
                session_id = cpo.ocpi.truth.session_ids.get((station_id, charge.transaction_id))
            energy = Decimal(charge.energy_wh) / KWH
            cost_excl = cost_incl = None
            currency = ""
            if session_id is not None and charge.started_at is not None and charge.unplugged_at is not None:
                priced = physical_price(cpo.ocpi, session_id, charge)
                total = priced.totals.total_cost
                if total is not None:
                    cost_excl, cost_incl = total.excl_vat, total.incl_vat
                currency = cpo.ocpi.tariff(cpo.ocpi.truth.tariff_in_effect[session_id][0]).currency
            answered = _answer(answers, station_id, charge.token_uid, charge.plugged_at)
            answer = None if answered is None else answered[1]
            visit = world.visit_key(station_id, charge.connector_id, charge.plugged_at)
            visit_of = (station_id, charge.connector_id, charge.token_uid, charge.plugged_at)
            quoted = world.quotes.get(visit)
            sessions.append(
                TruthSession(
                    key=f"{station_id}/{charge.connector_id}/{format_utc(charge.plugged_at)}",
                    cpo=cpo.cpo_id,
                    station_id=station_id,
                    connector_id=charge.connector_id,
                    token_uid=charge.token_uid,
                    # A token blocked before the driver plugged in is expected to be refused.
                    token_known=charge.token_uid in known
                    and not (
                        charge.token_uid in world.blocked
                        and world.blocked[charge.token_uid] <= charge.plugged_at
                    ),
                    authorized=charge.authorized,
                    transaction_id=charge.transaction_id,
                    session_id=session_id,
                    plugged_at=charge.plugged_at,
                    started_at=charge.started_at,
                    ended_at=charge.unplugged_at if charge.transaction_id is not None else None,
                    energy_kwh=energy,
                    cost_excl_vat=cost_excl,
                    cost_incl_vat=cost_incl,
                    currency=currency,
                    party=PartyRef(cpo.ocpi.country_code, cpo.ocpi.party_id),
                    correction=cpo.ocpi.truth.corrections.get(session_id or "", ""),
                    station_refusal=charge.refused_by_station or _left_first(charge, answered),
                    unanswered=None if charge.authorized or not unanswered(answer or "") else answer,
                    whitelisted=charge.authorized and answer == "WHITELIST",
                    start_unreachable=None if charge.authorized else lost_starts.get(visit_of),
                    quoted=None if quoted is None else Decimal(quoted),
                    fraudulent=visit in world.fraud_keys,
                )
            )
    sessions.sort(key=lambda s: (s.plugged_at, s.station_id, s.connector_id))
    return sessions

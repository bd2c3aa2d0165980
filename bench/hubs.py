"""Roaming hubs in a run (issue 10): personas from the scenario, the hub's connections, and what the
hub's truth adds to reconciliation and the summary.

The composition root (bench/world.py) calls `load_hub_persona` and `build_hubs`; the runner calls
`through_hubs` (reconciliation keys the hub's ids) and `hub_figures` (summary `hubs.<id>`).
The runtimes host the hubs (bench/runtime/sim_hub.py, live_hub.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.scenario import HubSpec, Scenario, ScenarioError
from emsp.billing.hub_fees import set_hub_fee
from emsp.core import EmspCore
from emsp.model import PartyRef
from emsp.reconciliation import TruthSession
from simulators.hub import (
    HubPersona,
    HubPersonaError,
    OcpiHub,
    PartyRole,
    Status,
    load_persona,
    load_persona_file,
)

EMSP_CONNECTION = "emsp"  # the hub's connection id for the eMSP (OutboundRequest.partner)


def hub_token_a(party_id: str) -> str:
    """Token A of a registration: the eMSP gives one to the hub, the hub one to each CPO behind it."""
    return f"token-a-{party_id}"


def load_hub_persona(hub: HubSpec, index: int, base_dir: Path, scenario_file: str) -> HubPersona:
    """A built-in persona by name, or a YAML file (a path: it has a suffix or a slash) relative to
    the scenario; any problem is invalid input naming `hubs[i].persona`."""
    value = hub.persona
    try:
        if value.endswith((".yaml", ".yml")) or "/" in value:
            path = base_dir / value
            if not path.is_file():
                raise HubPersonaError(f"no such persona file {value!r}")
            return load_persona_file(path)
        return load_persona(value)
    except HubPersonaError as exc:
        raise ScenarioError(scenario_file, f"hubs[{index}].persona", str(exc)) from exc


def fee_currencies(personas: Mapping[str, HubPersona]) -> dict[str, list[str]]:
    """Per hub, the currencies its summary shows fees in (its persona's fee, if it charges one)."""
    return {
        hub_id: [persona.fee_per_session.currency] if persona.fee_per_session is not None else []
        for hub_id, persona in personas.items()
    }


def build_hubs(
    scenario: Scenario,
    personas: Mapping[str, HubPersona],
    emsp: EmspCore,
    *,
    emsp_base_url: str,
    hub_base_urls: Mapping[str, str],
) -> dict[str, OcpiHub]:
    """Each hub with its connections: the eMSP (the hub registers toward it, with the token A the
    eMSP's operator gave the hub) and every CPO that names it (registers with the hub's token A)."""
    t0 = scenario.start
    hubs: dict[str, OcpiHub] = {}
    for spec in scenario.hubs:
        # The eMSP operator's configuration: a partner of role HUB, which may forward for any party
        # no other partner owns (the CPOs behind it are not configured one by one).
        # Its parties list names the CPOs behind it: calls to them go through it (emsp.ocpi.channels).
        behind = [(c.country_code, c.party_id, "CPO") for c in scenario.cpos if c.hub == spec.id]
        emsp.register_partner(
            spec.id,
            hub_token_a(spec.id),
            parties=[(spec.country_code, spec.party_id, "HUB"), *behind],
            hub=True,
        )
        fee = personas[spec.id].fee_per_session
        if fee is not None:  # the operator's contract with the hub: booked per session (cost line)
            with emsp.db.unit() as db:
                set_hub_fee(db, spec.id, fee.amount, fee.currency)
        hub = OcpiHub(
            hub_id=spec.id,
            country_code=spec.country_code,
            party_id=spec.party_id,
            base_url=hub_base_urls[spec.id],
            persona=personas[spec.id],
            business_name=f"{spec.id} (roaming hub, {personas[spec.id].name})",
        )
        emsp_party = PartyRole(scenario.emsp.country_code, scenario.emsp.party_id, "EMSP")
        hub.add_connection(
            EMSP_CONNECTION,
            [emsp_party],
            t0,
            versions_url=f"{emsp_base_url.rstrip('/')}/versions",
            their_token_a=hub_token_a(spec.id),
        )
        for cpo in scenario.cpos:
            if cpo.hub == spec.id:
                parties = [PartyRole(cpo.country_code, cpo.party_id, "CPO")]
                hub.add_connection(cpo.id, parties, t0, token_a=hub_token_a(cpo.id))
        hubs[spec.id] = hub
    return hubs


def _id_maps(hubs: Iterable[OcpiHub]) -> dict[tuple[str, str, str], str]:
    """(kind, "CC/PID", the CPO's id) -> the id the eMSP knows it by (the hub's, when it rewrites)."""
    return {
        (kind, owner, original): hub_id for hub in hubs for kind, owner, original, hub_id in hub.truth.id_map
    }


def through_hubs(truths: list[TruthSession], hubs: Mapping[str, OcpiHub]) -> list[TruthSession]:
    """The truth keyed as the eMSP saw it: a hub that shows Sessions under its own ids (persona
    `hub_ids`) made the eMSP store them under those, so reconciliation joins on the hub's id."""
    ids = _id_maps(hubs.values())
    if not ids:
        return truths
    out = []
    for truth in truths:
        if truth.session_id is not None and truth.party is not None:
            owner = f"{truth.party.country_code.upper()}/{truth.party.party_id.upper()}"
            mapped = ids.get(("session", owner, truth.session_id))
            if mapped is not None:
                truth = replace(truth, session_id=mapped)
        out.append(truth)
    return out


def cdr_ids_through_hubs(
    cdr_ids: Iterable[str], party: tuple[str, str], hubs: Mapping[str, OcpiHub]
) -> tuple[str, ...]:
    """A CPO's CDR ids as the eMSP knows them (the hub's ids when it rewrites)."""
    ids = _id_maps(hubs.values())
    owner = f"{party[0].upper()}/{party[1].upper()}"
    return tuple(ids.get(("cdr", owner, cdr_id), cdr_id) for cdr_id in cdr_ids)


def session_id_through_hubs(session_id: str, party: tuple[str, str], hubs: Mapping[str, OcpiHub]) -> str:
    """A CPO's Session id as the eMSP knows it (the hub's id when it rewrites)."""
    owner = f"{party[0].upper()}/{party[1].upper()}"
    return _id_maps(hubs.values()).get(("session", owner, session_id), session_id)


def hub_cdr_resends(hub: OcpiHub) -> dict[str, int]:
    """CDRs the hub sent the eMSP again after a timeout (it may have them twice), per sender "CC/PID"."""
    senders = {hop.request_out: hop.sender for hop in hub.truth.hops}
    out: dict[str, int] = {}
    for _at, request_out, object_key in hub.truth.resent:
        if object_key.startswith("cdrs:RECEIVER:"):
            sender = senders.get(request_out, "")
            out[sender] = out.get(sender, 0) + 1
    return out


def hub_figures(hub: OcpiHub | None, currencies: Iterable[str]) -> dict[str, Any]:
    """summary `hubs.<id>` (None: the skeleton). `forwarded`: messages the hub sent on to their
    receiver (each once, live or out of its store; resends are `resent`); `stored`: messages it
    held for a receiver; `late`: held messages delivered after all; `resent`: messages sent again
    after a timeout (the receiver may have them twice); `dropped`: given up; `fees`: what it charged."""
    fees = dict.fromkeys(currencies, Decimal(0))
    if hub is None:
        return {"forwarded": 0, "stored": 0, "late": 0, "resent": 0, "dropped": 0, "fees": _money(fees)}
    truth = hub.truth
    for fee in truth.fees:
        fees[fee.currency] = fees.get(fee.currency, Decimal(0)) + fee.amount
    return {
        "forwarded": sum(1 for hop in truth.hops if hop.attempt == 1),
        "stored": len(truth.stored),
        "late": len(truth.late),
        "resent": len(truth.resent),
        "dropped": len(truth.dropped),
        "fees": _money(fees),
    }


def _money(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: format(amount.normalize(), "f") for currency, amount in sorted(amounts.items())}


def emsp_registered(hub: OcpiHub) -> bool:
    """The hub's connection to the eMSP is up: CPOs behind it may start (before, their pushes get 4003)."""
    return hub.registry[EMSP_CONNECTION].status is Status.CONNECTED


def hub_currencies(scenario: Scenario, base_dir: Path, scenario_file: str) -> dict[str, list[str]]:
    """Per hub of the scenario, the currencies of its fees (what `hubs.<id>.fees` will hold)."""
    personas = {
        hub.id: load_hub_persona(hub, index, base_dir, scenario_file)
        for index, hub in enumerate(scenario.hubs)
    }
    return fee_currencies(personas)


def party_owner(
    world_cpos: Mapping[str, tuple[str, str]], hub_ids: Iterable[str]
) -> Callable[[str, PartyRef], str]:
    """The summary's `owner`: a record a hub brought counts for the CPO whose party it names."""
    by_party = {(cc.upper(), pid.upper()): cpo_id for cpo_id, (cc, pid) in world_cpos.items()}
    hubs = frozenset(hub_ids)

    def owner(partner: str, party: PartyRef) -> str:
        if partner not in hubs:
            return partner
        return by_party.get((party.country_code.upper(), party.party_id.upper()), partner)

    return owner

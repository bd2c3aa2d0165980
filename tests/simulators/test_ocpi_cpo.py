"""The mock CPO's OCPI role against the real eMSP core, pumped in memory (no runtime, no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from emsp.core import EmspCore, EmspSettings
from emsp.wire import Deferred, HttpResponse, OutboundRequest, loads
from simulators.cpo.events import AuthorizationRequested, MeterSampled, TransactionEnded, TransactionStarted
from simulators.cpo.locations import SiteSpec, StationSite
from simulators.cpo.ocpi_cpo import CpoOutput, OcpiCpo
from simulators.dialects.profile import load_profile

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
TARIFF = loads((Path(__file__).resolve().parents[2] / "scenarios" / "tariffs" / "standard.json").read_text())
SITE = SiteSpec("LOC1", "Site", "Street 1", "Utrecht", "NLD", "52.090736", "5.121420", "Europe/Amsterdam",
                "STD", (StationSite("CS1", 2, Decimal(22)),))  # fmt: skip


def _world(ocpi_version: str = "2.2.1") -> tuple[OcpiCpo, EmspCore]:
    emsp = EmspCore(EmspSettings(base_url="http://emsp.local/ocpi"))
    emsp.register_partner("cpo-a", "token-a", parties=[("DE", "CPA", "CPO")])
    emsp.issue_token("AA11", contract_id="NL-EMS-C00000001", now=T0)
    cpo = OcpiCpo(
        cpo_id="cpo-a",
        country_code="DE",
        party_id="CPA",
        business_name="CPO A",
        base_url="http://cpo.local/ocpi",
        emsp_versions_url="http://emsp.local/ocpi/versions",
        token_a="token-a",
        dialect=load_profile("spec-strict"),
        tariffs={"STD": TARIFF | {"country_code": "DE", "party_id": "CPA"}},
        sites=[SITE],
        ocpi_version=ocpi_version,
    )
    return cpo, emsp


def _pump(cpo: OcpiCpo, emsp: EmspCore, output: CpoOutput, now: datetime) -> list[bool]:
    """Deliver every request at once; return the authorization decisions that came back."""
    decisions: list[bool] = []
    queue: list[OutboundRequest] = list(output.requests)
    while queue:
        outbound = queue.pop(0)
        response = emsp.handle(outbound.request, now)
        while backs := emsp.pending_requests():  # the eMSP's own calls (its handshake fetches)
            for back in backs:
                emsp.on_response(back.request_id, cpo.handle(back.request, now), now)
        if isinstance(response, Deferred):
            final = emsp.take_response(response.deferred_id)
            assert final is not None, "the eMSP's deferred answer did not come"
            response = final
        more = cpo.on_response(outbound.request_id, response, now)
        decisions += [d.accepted for d in more.decisions]
        queue += more.requests
    return decisions


def test_handshake_registers_and_pushes_tariff_and_location() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    assert cpo.truth.registered_at == T0
    assert cpo.truth.failed_calls == []
    assert emsp.partner_endpoints("cpo-a")  # the eMSP fetched our versions with token B


def test_authorization_then_session_and_cdr_reach_the_emsp() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    ask = AuthorizationRequested(ref="r1", station_id="CS1", token_uid="AA11", at=T0)
    assert _pump(cpo, emsp, cpo.on_event(ask, T0), T0) == [True]
    unknown = AuthorizationRequested(ref="r2", station_id="CS1", token_uid="FFFF", at=T0)
    assert _pump(cpo, emsp, cpo.on_event(unknown, T0), T0) == [False]
    assert [a.result for a in cpo.truth.authorizations] == ["ALLOWED", "UNKNOWN"]

    t1, t2 = T0 + timedelta(minutes=30), T0 + timedelta(hours=1)
    for event, at in (
        (TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0),
        (MeterSampled("CS1", "7", t1, 6500, Decimal(11000)), t1),
        (TransactionEnded("CS1", "7", t2, 12000, "EVDisconnected"), t2),
    ):
        _pump(cpo, emsp, cpo.on_event(event, at), at)
    records = emsp.records()
    [session] = records.sessions
    assert session.status == "COMPLETED" and session.kwh == Decimal(11)
    [cdr] = records.cdrs
    assert cdr.total_energy_kwh == Decimal(11) and cdr.session_id == session.session_id
    # 11 kWh x 0.35 + 1 h x 2.00 = 5.85 excl. VAT, and the eMSP's own re-price agrees.
    [line] = records.invoice_lines
    assert line.amount_excl_vat == line.cpo_excl_vat == Decimal("5.85")


def test_a_garbage_response_is_recorded_not_raised() -> None:
    cpo, _ = _world()
    [versions] = cpo.start(T0).requests
    out = cpo.on_response(versions.request_id, HttpResponse(502, {}, "<html>bad gateway</html>"), T0)
    assert out.requests == [] and len(cpo.truth.failed_calls) == 1


def test_the_sender_copy_of_a_charging_session_keeps_every_period_a_delta_cpo_patched() -> None:
    """A `delta` CPO's PATCH carries only the periods ended since the last one (mod_sessions: the
    receiver adds them); its own Sender copy, which the lists serve while the session charges, is
    the whole session so far, not only the last PATCH's periods."""
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    patched: list[object] = []
    # Energy flows, stops, flows again: each change of flow ends a period.
    for minutes, wh in ((10, 3000), (20, 3000), (30, 5000), (40, 5000)):
        at = T0 + timedelta(minutes=minutes)
        out = cpo.on_event(MeterSampled("CS1", "7", at, wh, Decimal(11000)), at)
        patched += [
            p for r in out.requests for p in (loads(r.request.body or "{}").get("charging_periods") or [])
        ]
        _pump(cpo, emsp, out, at)
    [session_id] = cpo.truth.session_ids.values()
    listed = cpo.published.get("sessions", session_id)
    assert listed is not None and len(patched) >= 2  # more than one PATCH carried periods
    assert [p["start_date_time"] for p in listed["charging_periods"]] == [
        p["start_date_time"] for p in patched
    ]

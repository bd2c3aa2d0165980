from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from emsp_helpers import Client, FakePricer, V, cdr, location, register, session, tariff

from emsp.bus import Bus, CdrReceived, QueueFull, SessionUpserted
from emsp.core import EmspCore, EmspSettings
from emsp.model import PartyRef, SessionInfo

T = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _session_event(partner: str = "cpo1", sid: str = "S1") -> SessionUpserted:
    info = SessionInfo(
        partner, PartyRef("DE", "CPA"), sid, "ACTIVE", "RFID1", "C1", None, "LOC1", Decimal(0), T, None, T
    )
    return SessionUpserted(partner, info, created=True)


class _MemoryUow:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def run_once(self, key, effect) -> bool:  # type: ignore[no-untyped-def]
        if key in self.keys:
            return False
        effect(None)
        self.keys.add(key)
        return True


def test_same_event_twice_one_effect() -> None:
    seen: list[str] = []
    bus = Bus(_MemoryUow())
    bus.subscribe(SessionUpserted, "count", lambda e, db: seen.append(e.session.session_id))
    bus.publish(_session_event())
    bus.publish(_session_event())
    assert bus.drain() == 2 and seen == ["S1"]


def test_per_partner_bound_and_order() -> None:
    order: list[tuple[str, str]] = []
    bus = Bus(_MemoryUow(), max_pending_per_partner=2)
    bus.subscribe(SessionUpserted, "h", lambda e, db: order.append((e.partner, e.session.session_id)))
    bus.publish(_session_event("b", "B1"))
    bus.publish(_session_event("b", "B2"))
    with pytest.raises(QueueFull):
        bus.publish(_session_event("b", "B3"))
    bus.publish(_session_event("a", "A1"))  # another partner is not affected
    bus.drain()
    assert order == [("a", "A1"), ("b", "B1"), ("b", "B2")]


def test_failing_handler_is_dead_lettered_and_others_run() -> None:
    seen: list[str] = []
    bus = Bus(_MemoryUow())
    bus.subscribe(SessionUpserted, "boom", lambda e, db: 1 / 0)
    bus.subscribe(SessionUpserted, "ok", lambda e, db: seen.append("ok"))
    bus.publish(_session_event())
    bus.drain()
    assert seen == ["ok"] and bus.dead_letters[0].handler == "boom"


def test_replayed_cdr_event_bills_once(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    cpo.call("POST", f"{V}/cdrs", cdr())
    info = core.records().cdrs[0]
    core.publish(CdrReceived("cpo1", info))
    core.publish(CdrReceived("cpo1", info))
    assert len(core.records().invoice_lines) == 1
    assert 'emsp_cdrs_received_total{partner="cpo1"} 1.0' in core.metrics_text()


def test_full_partner_queue_is_transient_error_and_nothing_stored() -> None:
    core = EmspCore(EmspSettings(max_pending_per_partner=0), pricer=FakePricer())
    cpo = register(core)
    resp = cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    assert resp.status == 503 and resp.json()["status_code"] == 3000
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/S1").status == 404

"""Store-and-forward: a push whose answer is lost is sent again, in order, and the repeat is recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from test_ocpi_cpo import T0, _pump, _world

from simulators.cpo.events import AuthorizationRequested, MeterSampled, TransactionEnded, TransactionStarted
from simulators.cpo.ocpi_cpo import CpoOutput


def test_a_cdr_whose_answer_was_lost_is_resent_and_billed_once() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    ask = AuthorizationRequested(ref="r1", station_id="CS1", token_uid="AA11", at=T0)
    _pump(cpo, emsp, cpo.on_event(ask, T0), T0)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    t1 = T0 + timedelta(hours=1)
    [session_put, cdr_post] = cpo.on_event(TransactionEnded("CS1", "7", t1, 12000, "Local"), t1).requests
    _pump(cpo, emsp, CpoOutput(requests=[session_put]), t1)
    emsp.handle(cdr_post.request, t1)  # the eMSP stores the CDR ...
    assert cpo.on_lost(cdr_post.request_id, t1).requests == []  # ... but its answer never comes back

    # Meanwhile the next push waits behind the backlog: per-object order survives.
    t2 = t1 + timedelta(milliseconds=500)
    later = cpo.on_event(MeterSampled("CS1", "8", t2, 1, None), t2)
    assert later.requests == [] or all(r.request_id != cdr_post.request_id for r in later.requests)
    wake = cpo.next_wakeup()
    assert wake == t1 + timedelta(seconds=1)
    [probe] = cpo.on_wakeup(wake).requests
    assert probe.request == cdr_post.request  # the same CDR, byte for byte
    _pump(cpo, emsp, CpoOutput(requests=[probe]), wake)

    assert cpo.truth.cdrs_resent == [f"{cpo.truth.cdrs[0].session_id}-CDR"]
    assert [(kind, url) for _at, kind, url in cpo.truth.resent] == [("cdr", cdr_post.request.url)]
    records = emsp.records()
    assert len(records.cdrs) == 1 and [d.identical for d in records.duplicate_cdrs] == [True]
    [line] = records.invoice_lines
    assert line.amount_excl_vat == Decimal("5.85")  # 11 kWh x 0.35 + 1 h x 2.00: once

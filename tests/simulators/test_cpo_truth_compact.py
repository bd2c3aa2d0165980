"""The mock CPO's truth records share what repeats (latency Decimals, tariff pairs) and hold the same
values as before; a sent CDR's record keeps no copy of its body."""

from __future__ import annotations

import gc
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cpo_fake_emsp import FakeEmsp
from test_cpo_versions import make_cpo, pump

from simulators.cpo.events import AuthorizationRequested, TransactionEnded, TransactionStarted
from simulators.cpo.truth import CdrUrls, SentCdr, latency_decimal

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
LATENCIES = [40.0, 40, 0.0, -0.0, 0, 12.3456789, 1e-7, 0.0005, 0.0015, 123456.0005, 2.5e-4, -0.0, 0.0, 40.0]


def _general(ms: float) -> Decimal:
    return Decimal(ms).quantize(Decimal("0.001"))


@pytest.mark.parametrize("order", [LATENCIES, LATENCIES[::-1]])
def test_latency_decimal_is_the_quantized_decimal(order: list[float]) -> None:
    for ms in order:
        value = latency_decimal(ms)
        assert (str(value), value.as_tuple()) == (str(_general(ms)), _general(ms).as_tuple())
    assert latency_decimal(40.0) is latency_decimal(40.0)


def test_sessions_share_one_tariff_pair_and_keep_their_values() -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    pump(cpo, emsp, cpo.start(T0), T0)
    for n in range(1, 4):
        at = T0 + timedelta(minutes=10 * n)
        ask = AuthorizationRequested(ref=f"r{n}", station_id="CS1", token_uid="AA11", at=at)
        pump(cpo, emsp, cpo.on_event(ask, at), at)
        started = TransactionStarted("CS1", 1, str(n), "AA11", 0, at)
        pump(cpo, emsp, cpo.on_event(started, at), at)
        end = at + timedelta(minutes=5)
        pump(cpo, emsp, cpo.on_event(TransactionEnded("CS1", str(n), end, 1000, "EVDisconnected"), end), end)
    pairs = list(cpo.truth.tariff_in_effect.values())
    assert len(pairs) == 3 and all(p == ("STD", pairs[0][1]) and p is pairs[0] for p in pairs)
    assert len(cpo.truth.cdrs) == 3
    for sent, body in zip(cpo.truth.cdrs, emsp.bodies("POST", "cdrs"), strict=True):
        assert sent.cdr_id == body["id"] and cpo.published.get("cdrs", sent.cdr_id) == body
        assert sent.energy_kwh == Decimal(1) and sent.energy_wh == 1000
    results = [a.result for a in cpo.truth.authorizations]
    assert len(results) == 3 and all(r is results[0] for r in results)  # one string, shared
    assert "total_cost" not in {f.name for f in fields(SentCdr)}


@pytest.mark.parametrize(
    ("cdr_id", "url"),
    [
        ("C1", "https://emsp.example/ocpi/2.2.1/cdrs/DE/CPA/C1"),  # the usual: prefix + id
        ("C2", "https://emsp.example/ocpi/2.2.1/cdrs/DE/CPA/C2"),
        ("C3", "https://emsp.example/cdr/42"),  # an eMSP's own key: stored whole
        ("C4", "https://emsp.example/cdrs/C4?x=1"),
        ("", "https://emsp.example/cdrs/"),  # an empty id ends every URL: stored whole
        ("C1", "https://other.example/C1"),  # a second answer for C1 replaces the first
        ("C3", "https://emsp.example/cdrs/C3"),  # and a whole URL can become a prefixed one
    ],
)
def test_cdr_urls_read_back_what_was_stored_as_a_dict_does(cdr_id: str, url: str) -> None:
    urls, plain = CdrUrls(), {}
    for key, value in [
        ("C1", "https://emsp.example/ocpi/2.2.1/cdrs/DE/CPA/C1"),
        ("C3", "https://emsp.example/cdr/42"),
        (cdr_id, url),
    ]:
        urls[key] = value
        plain[key] = value
    assert dict(urls.items()) == plain and list(urls) == list(plain) and len(urls) == len(plain)
    assert bool(urls) and not CdrUrls()


def test_cdr_urls_keep_one_copy_of_a_shared_prefix() -> None:
    urls = CdrUrls()
    for n in range(3):
        urls[f"C{n}"] = "".join(["https://emsp.example/cdrs/", f"C{n}"])  # a fresh string each time
    prefixes = {id(urls._urls[f"C{n}"]) for n in range(3)}
    assert len(prefixes) == 1 and urls["C2"] == "https://emsp.example/cdrs/C2"


@pytest.mark.parametrize("wh", [0, 1, 999, 1000, 1001, 12345, 10_468, 250_000, -5])
def test_a_sent_cdr_gives_the_energy_the_cpo_computed_from_its_watt_hours(wh: int) -> None:
    sent = SentCdr("C", "S", "CS1", "1", wh, T0)
    general = Decimal(wh) / Decimal(1000)  # as the CPO computes a CDR's energy
    assert (str(sent.energy_kwh), sent.energy_kwh.as_tuple()) == (str(general), general.as_tuple())


def test_sent_cdrs_keep_no_datetime_no_derived_id_and_their_session_s_transaction_id() -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    pump(cpo, emsp, cpo.start(T0), T0)
    at = T0 + timedelta(minutes=10)
    pump(
        cpo,
        emsp,
        cpo.on_event(AuthorizationRequested(ref="r", station_id="CS1", token_uid="AA11", at=at), at),
        at,
    )
    n = 7
    pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, f"T{n}", "AA11", 0, at), at), at)
    end = at + timedelta(minutes=5, microseconds=1500)
    stopped = TransactionEnded("CS1", f"T{n}", end, 1000, "EVDisconnected")  # an equal, other string
    pump(cpo, emsp, cpo.on_event(stopped, end), end)
    [sent] = cpo.truth.cdrs
    [key] = cpo.truth.session_ids
    assert stopped.transaction_id is not key[1] and sent.transaction_id is key[1]  # one copy
    assert sent.own_cdr_id is None and sent.cdr_id == emsp.bodies("POST", "cdrs")[0]["id"]
    assert not any(isinstance(r, datetime) for r in gc.get_referents(sent))
    assert sent.sent_at == end and sent.sent_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("cdr_id", "session_id", "own"),
    [("S1-CDR", "S1", None), ("S1-CDR-2", "S1", "S1-CDR-2"), ("X", "S1", "X"), ("-CDR", "", None)],
)
def test_a_sent_cdr_reads_back_the_id_and_instant_it_was_given(
    cdr_id: str, session_id: str, own: str
) -> None:
    for at in (T0, T0 + timedelta(microseconds=1), datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)):
        sent = SentCdr(cdr_id, session_id, "CS1", "T1", 10, at)
        assert (sent.cdr_id, sent.own_cdr_id, sent.sent_at) == (cdr_id, own, at)
        assert sent == SentCdr(cdr_id, session_id, "CS1", "T1", 10, at)


def test_a_sent_cdr_keeps_its_instant_as_its_own_int_and_nothing_else_keeps_the_datetime() -> None:
    """One record per CDR all run long: its instant is its int alone; no memo of sent instants holds
    the datetimes given (and an entry for each) beside the records."""
    import sys
    from datetime import timedelta

    moments = [T0 + timedelta(seconds=n) for n in range(3)]
    counts = [sys.getrefcount(moment) for moment in moments]
    sent = [SentCdr(f"S{n}-CDR", f"S{n}", "CS1", "T1", 10, m) for n, m in enumerate(moments)]
    assert [sys.getrefcount(moment) for moment in moments] == counts
    assert [s.sent_at for s in sent] == moments

"""The lean Session PATCH path (each PATCHed field validated alone, the stored Session's reading
remembered) gives exactly what validating the merged Session gives, and refuses nothing itself:
whatever it does not accept takes the general path, which names the error as before. A remembered
session is updated in the columns that changed only: the row ends up the same."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import FakePricer, V, period, register, session
from sqlalchemy import select

from emsp.core import EmspCore, EmspSettings
from emsp.model import PartyRef, SessionInfo
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.modules import sessions as sessions_module
from emsp.ocpi.modules.sessions import merge_patch
from emsp.ocpi.v221.adapter import V221Adapter
from emsp.ocpi.v221.schemas import SESSION_WINDOW_FIELDS
from emsp.ocpi.versions import ADAPTERS
from emsp.storage.tables import SessionRow

LU = "2025-03-01T09:30:00Z"
STORED = session(
    "S1",
    authorization_reference="REF1",
    meter_id="M1",
    charging_periods=[period("2025-03-01T09:00:00Z", "1.5")],
    total_cost={"excl_vat": Decimal("0.50")},
    extra_field={"kept": True},
)
TOKEN = {
    "uid": "RFID2",
    "type": "APP_USER",
    "contract_id": "NL-EMS-C2",
    "country_code": "NL",
    "party_id": "EMS",
}

# (patch, the lean path takes it): everything it declines must be what the general path decides.
PATCHES: list[tuple[dict[str, Any], bool]] = [
    ({"kwh": Decimal("2.5"), "last_updated": LU}, True),
    ({"kwh": 3, "last_updated": LU}, True),
    ({"meter_id": None, "last_updated": LU}, True),  # an optional field cleared
    # The window (start, end) is checked across fields: such a PATCH takes the general path.
    ({"end_date_time": None, "last_updated": LU}, False),
    ({"end_date_time": "2025-03-01T08:00:00Z", "last_updated": LU}, False),  # ends before its start
    ({"start_date_time": "2025-03-01T11:00:00Z", "last_updated": LU}, False),  # periods before it
    ({"authorization_reference": None, "meter_id": None, "total_cost": None, "last_updated": LU}, True),
    ({"country_code": "de", "party_id": "cpa", "id": "S1", "last_updated": LU}, True),  # CiString: upper
    (
        {
            "cdr_token": TOKEN,
            "location_id": "LOC2",
            "evse_uid": "E2",
            "connector_id": "2",
            "last_updated": LU,
        },
        True,
    ),
    ({"start_date_time": "2025-03-01T08:59:00.5Z", "currency": "USD", "last_updated": LU}, False),
    ({"currency": "USD", "last_updated": LU}, True),
    ({"auth_method": "WHITELIST", "last_updated": LU}, True),
    ({"charging_periods": [period("2025-03-01T09:10:00Z", "2")], "last_updated": LU}, True),
    ({"charging_periods": [period("2025-03-01T09:00:00Z", "1.5")], "last_updated": LU}, True),  # replayed
    ({"charging_periods": [], "last_updated": LU}, True),
    ({"total_cost": {"excl_vat": 1, "incl_vat": Decimal("1.21")}, "last_updated": LU}, True),
    ({"other": None, "last_updated": LU}, True),  # fields beyond the object are kept as they are
    ({"last_updated": LU}, True),
    # Refused, each by the general path with its own message:
    ({"kwh": 1}, False),  # no last_updated (2.2.1 PATCH)
    ({"kwh": 1, "last_updated": "yesterday"}, False),
    ({"kwh": 1, "last_updated": None}, False),
    ({"kwh": None, "last_updated": LU}, False),  # a required field cannot be cleared
    ({"kwh": -1, "last_updated": LU}, False),
    ({"kwh": "1", "last_updated": LU}, False),
    ({"status": "FINISHED", "last_updated": LU}, False),
    ({"status": None, "last_updated": LU}, False),
    ({"cdr_token": None, "last_updated": LU}, False),
    ({"cdr_token": {**TOKEN, "uid": ""}, "last_updated": LU}, False),
    ({"id": "X" * 37, "last_updated": LU}, False),
    ({"end_date_time": 5, "last_updated": LU}, False),
    ({"total_cost": {"excl_vat": -1}, "last_updated": LU}, False),
    ({"charging_periods": [{"start_date_time": "2025-03-01T09:20:00Z"}], "last_updated": LU}, False),
    ({"charging_periods": None, "last_updated": LU}, True),  # refused by the merge, on both paths
    ({"charging_periods": "x", "last_updated": LU}, False),
    ({"meter_id": "\x00", "last_updated": LU}, False),
    ({"status": "COMPLETED", "end_date_time": "2025-03-01T10:00:00Z", "last_updated": LU}, False),  # ends it
    ({"status": "COMPLETED", "last_updated": LU}, True),
]


def _general(patch: dict[str, Any]) -> tuple[SessionInfo, Any] | OcpiError:
    adapter = ADAPTERS["2.2.1"]
    try:
        at = adapter.patch_last_updated(patch)
        merged = merge_patch(STORED, patch, append_periods=adapter.patch_appends_periods)
        return adapter.session(merged, PartyRef("DE", "CPA"), "cpo2")[0], at
    except OcpiError as err:
        return err


def _merge_refuses(patch: dict[str, Any]) -> bool:
    """The merge (which both paths run before reading the Session) refuses the PATCH."""
    try:
        merge_patch(STORED, patch, append_periods=True)
    except OcpiError:
        return True
    return False


@pytest.mark.parametrize(("patch", "lean_takes_it"), PATCHES)
def test_lean_reading_is_the_merged_sessions(patch: dict[str, Any], lean_takes_it: bool) -> None:
    adapter = ADAPTERS["2.2.1"]
    stored, _ = adapter.session(STORED, PartyRef("DE", "CPA"), "cpo1")
    general = _general(patch)
    lean = adapter.session_patch(patch)
    assert (lean is not None) == lean_takes_it
    if lean is None:
        if SESSION_WINDOW_FIELDS.isdisjoint(patch):  # else the general path decides, valid or not
            assert isinstance(general, OcpiError)  # nothing valid is left to the general path here
        return
    if _merge_refuses(patch):
        return
    assert not isinstance(general, OcpiError)
    info, at = general
    assert lean.apply(stored, "cpo2") == info
    assert lean.last_updated == at


@pytest.mark.parametrize("version", ["2.1.1", "2.3.0"])
def test_versions_whose_session_is_mapped_take_the_general_path(version: str) -> None:
    assert ADAPTERS[version].session_patch({"kwh": 1, "last_updated": LU}) is None


def _run(monkeypatch: pytest.MonkeyPatch, lean: bool) -> tuple[list[Any], list[Any], list[Any], int]:
    """PUT, then every PATCH of the table, in order, through the core; what came out of it."""
    calls = [0]
    general = V221Adapter.session

    def counted(self: V221Adapter, body: Any, party: PartyRef, partner: str) -> Any:
        calls[0] += 1
        return general(self, body, party, partner)

    with monkeypatch.context() as patched:
        patched.setattr(V221Adapter, "session", counted)
        if not lean:  # nothing remembered of the stored session: every PATCH as a first one
            patched.setattr(sessions_module, "_known", lambda ctx, key: None)
        core = EmspCore(EmspSettings(), pricer=FakePricer())
        cpo = register(core)
        url = f"{V}/sessions/DE/CPA/S1"
        answers = [cpo.call("PUT", url, STORED)]
        for minute, (patch, _) in enumerate(PATCHES, start=1):
            if patch.get("last_updated") == LU:  # each PATCH newer than the last
                patch = {**patch, "last_updated": f"2025-03-01T10:{minute:02d}:00Z"}
            answers.append(cpo.call("PATCH", url, patch))
        answers.append(cpo.call("PUT", url, {**STORED, "kwh": 4, "last_updated": "2025-03-01T11:00:00Z"}))
        replayed = {"kwh": Decimal("4.50"), "last_updated": "2025-03-01T11:01:00Z"}
        answers.append(cpo.call("PATCH", url, replayed))
        answers.append(cpo.call("PATCH", url, replayed))  # the row holds it already: nothing to update
        answers.append(
            cpo.call("PATCH", url, {"kwh": Decimal("4.5"), "last_updated": "2025-03-01T11:01:00Z"})
        )
        answers.append(cpo.call("PATCH", url, {"kwh": 9, "last_updated": "2025-03-01T09:00:00Z"}))  # stale
        answers.append(cpo.call("GET", url))
        replies = [
            (a.status, {k: v for k, v in (a.json() or {}).items() if k != "timestamp"}) for a in answers
        ]
        with core.db.session_factory() as db:
            rows = [
                {c.key: (type(v := getattr(r, c.key)), str(v)) for c in SessionRow.__table__.columns}
                for r in db.scalars(select(SessionRow).order_by(SessionRow.pk))
            ]
        events = [(e.kind, e.payload, e.idempotency_key, e.state) for e in core.events_after(0, 1000)]
    return replies, rows, events, calls[0]


def test_the_core_answers_and_stores_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    lean_replies, lean_rows, lean_events, lean_calls = _run(monkeypatch, lean=True)
    general_replies, general_rows, general_events, general_calls = _run(monkeypatch, lean=False)
    assert lean_replies == general_replies
    assert lean_rows == general_rows
    assert lean_events == general_events
    refused = sum(1 for status, body in lean_replies if body.get("status_code") == 2001)
    assert refused >= 10  # the invalid PATCHes were refused, the same way on both paths
    # The lean path read the merged Session only where it declined the PATCH (and for the PUT).
    assert lean_calls < general_calls


def test_a_patch_after_this_process_wrote_the_session_reads_no_stored_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stored Session a PATCH merges into is the body last written (remembered with it), not
    its text parsed again; the merged Session is the one the text gives (the test above: both paths)."""
    core = EmspCore(EmspSettings(), pricer=FakePricer())
    cpo = register(core)
    url = f"{V}/sessions/DE/CPA/S1"
    assert cpo.call("PUT", url, STORED).status == 201
    parsed: list[str] = []
    real = sessions_module.loads
    monkeypatch.setattr(sessions_module, "loads", lambda text: parsed.append(text) or real(text))
    for minute in range(1, 6):
        patch = {
            "kwh": Decimal(f"{minute}.5"),
            "charging_periods": [period(f"2025-03-01T09:{minute:02d}:00Z", "1")],
            "last_updated": f"2025-03-01T10:{minute:02d}:00Z",
        }
        assert cpo.call("PATCH", url, patch).status == 200
    assert parsed == []
    stored = cpo.call("GET", url).json()["data"]
    assert stored["kwh"] == Decimal("5.5") and len(stored["charging_periods"]) == 6


def _ended_by_put(monkeypatch: pytest.MonkeyPatch, known: bool) -> tuple[list[Any], list[str]]:
    """PUT, a PATCH, then PUTs that end the session, replay the end and change it once ended; the
    events written and the stored texts parsed. `known=False`: nothing remembered (general path)."""
    parsed: list[str] = []
    real = sessions_module.loads
    with monkeypatch.context() as patched:
        if not known:
            patched.setattr(sessions_module, "_known", lambda ctx, key: None)
        core = EmspCore(EmspSettings(), pricer=FakePricer())
        cpo = register(core)
        url = f"{V}/sessions/DE/CPA/S1"
        assert cpo.call("PUT", url, STORED).status == 201
        assert cpo.call("PATCH", url, {"kwh": 2, "last_updated": "2025-03-01T10:01:00Z"}).status == 200
        patched.setattr(sessions_module, "loads", lambda text: parsed.append(text) or real(text))
        ends = [
            {"status": "COMPLETED", "end_date_time": "2025-03-01T10:02:00Z"},
            {"status": "COMPLETED", "end_date_time": "2025-03-01T10:02:00Z"},  # the end replayed
            {"status": "INVALID", "end_date_time": "2025-03-01T10:02:00Z"},  # ended already
        ]
        for minute, end in enumerate(ends, start=3):
            body = {**STORED, **end, "kwh": 3, "last_updated": f"2025-03-01T10:{minute:02d}:00Z"}
            assert cpo.call("PUT", url, body).status == 200
        events = [(e.kind, e.payload, e.idempotency_key) for e in core.events_after(0, 1000)]
    return events, parsed


def test_a_put_that_ends_a_session_this_process_wrote_reads_no_stored_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether a PUT ends the session is read from the body last written (remembered with it),
    with the very outcome of parsing its stored text: one session.ended, then updates."""
    known_events, known_parsed = _ended_by_put(monkeypatch, known=True)
    general_events, general_parsed = _ended_by_put(monkeypatch, known=False)
    assert known_events == general_events
    kinds = [kind for kind, _, _ in known_events if kind.startswith("session.")]
    assert kinds == ["session.started", "session.updated", "session.ended"] + ["session.updated"] * 2
    assert len(general_parsed) == 3  # the general path parses the stored text for every PUT
    # Remembered, the ending PUT parses nothing; an ended session is forgotten, so the PUTs after
    # it read the stored text as before.
    assert known_parsed == general_parsed[1:]

"""Hub personas: loading and invalid files, and each knob's behaviour through the hub."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hub_world import CPO_A, EMSP, T0, build

from simulators.hub import HubPersonaError, load_persona, load_persona_file
from simulators.hub.persona import persona_names

SESSION = {
    "country_code": "DE",
    "party_id": "CPA",
    "id": "S1",
    "kwh": 0,
    "status": "ACTIVE",
    "charging_periods": [{"start_date_time": "2026-03-02T08:00:00Z"}],
    "last_updated": "2026-03-02T08:00:00Z",
}
CDR = {"country_code": "DE", "party_id": "CPA", "id": "CDR1", "session_id": "S1", "total_energy": 12.5}


def test_built_in_personas_load_with_their_knobs() -> None:
    assert {"routing-only", "aggregating"} <= set(persona_names())
    routing, aggregating = load_persona("routing-only"), load_persona("aggregating")
    assert (routing.routing_headers, routing.broadcast, routing.store_and_forward) == ("strict", False, None)
    assert aggregating.page_cap == 20 and aggregating.hub_ids and aggregating.session_patch == "as_put"
    assert aggregating.store_and_forward is not None and aggregating.fee_per_session is not None
    assert aggregating.fee_per_session.amount == Decimal("0.25")


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("name: x\nbroadcats: true\n", "broadcats", "Extra inputs are not permitted"),
        ("name: x\npage_cap: 0\n", "page_cap", "greater than or equal to 1"),
        ("name: x\nrouting_headers: loose\n", "routing_headers", "'strict' or 'open'"),
        (
            "name: x\nfee_per_session: {amount: '0.25', currency: eur}\n",
            "fee_per_session.currency",
            "ISO 4217",
        ),
        (
            "name: x\nfee_per_session: {amount: '-1', currency: EUR}\n",
            "fee_per_session.amount",
            "greater than",
        ),
        ("name: x\nstore_and_forward: {modules: [cdr]}\n", "store_and_forward.modules", "unknown module"),
        ("name: x\nstore_and_forward: {backoff_s: [1, 0]}\n", "store_and_forward.backoff_s", "more than 0"),
        ("name: x\nforward_timeout_s: 0\n", "forward_timeout_s", "greater than 0"),
        ("name: x\nforward_timeout_s: .inf\n", "forward_timeout_s", "finite number"),
        ("- a list\n", "(top level)", "mapping of knobs"),
        ("description: no name\n", "name", "Field required"),
    ],
)
def test_an_invalid_persona_file_names_file_field_and_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HubPersonaError) as error:
        load_persona_file(path)
    message = str(error.value)
    assert str(path) in message and f"field {field}" in message and reason in message


def test_unparseable_yaml_and_unknown_persona_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(HubPersonaError, match=r"broken\.yaml: not valid YAML"):
        load_persona_file(path)
    with pytest.raises(HubPersonaError, match=r"unknown hub persona 'nope'; known: .*routing-only"):
        load_persona("nope")


def test_put_only_hub_turns_a_session_patch_into_a_put_of_the_merged_session() -> None:
    world = build("aggregating")
    world.cpo_a.call("PUT", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=SESSION, to=EMSP)
    patch = {
        "kwh": 3.5,
        "charging_periods": [{"start_date_time": "2026-03-02T08:15:00Z"}],
        "last_updated": "2026-03-02T08:15:00Z",
    }
    world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=patch, to=EMSP)
    world.net.run(T0)
    put, merged = [r for r in world.emsp.received if r.module == "sessions"]
    assert (put.method, merged.method) == ("PUT", "PUT")
    assert merged.suffix == put.suffix == "/DE/CPA/HUB-S000001"
    assert merged.body["kwh"] == 3.5 and merged.body["status"] == "ACTIVE"
    # mod_sessions PATCH: charging_periods are added to the existing ones, not replaced.
    assert [p["start_date_time"] for p in merged.body["charging_periods"]] == [
        "2026-03-02T08:00:00Z",
        "2026-03-02T08:15:00Z",
    ]


def _periods(body: dict[str, object]) -> list[str]:
    return [str(p["start_date_time"]) for p in body["charging_periods"]]  # type: ignore[attr-defined]


def test_put_only_hub_merges_a_resent_patch_once() -> None:
    # The sender resends a PATCH whose answer it lost: merged again, its charging period was added
    # twice to the Session the hub PUT to the eMSP.
    world = build("aggregating")
    world.cpo_a.call("PUT", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=SESSION, to=EMSP)
    patch = {
        "charging_periods": [{"start_date_time": "2026-03-02T08:15:00Z"}],
        "last_updated": "2026-03-02T08:15:00Z",
    }
    for _ in range(2):
        world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=patch, to=EMSP)
    world.net.run(T0)
    _put, merged, again = [r for r in world.emsp.received if r.module == "sessions"]
    assert _periods(merged.body) == _periods(again.body) == ["2026-03-02T08:00:00Z", "2026-03-02T08:15:00Z"]
    assert again.body == merged.body


def test_put_only_hub_merges_the_next_patch_into_the_newest_session_not_a_resent_older_put() -> None:
    # The sender resends its first PUT after a PATCH got through: the hub passes it on (the eMSP
    # keeps the newer Session), but the next PATCH must not be merged into that older Session.
    world = build("aggregating")
    world.cpo_a.call("PUT", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=SESSION, to=EMSP)
    first = {"kwh": 2, "charging_periods": [{"start_date_time": "2026-03-02T08:15:00Z"}],
             "last_updated": "2026-03-02T08:15:00Z"}  # fmt: skip
    world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=first, to=EMSP)
    world.cpo_a.call("PUT", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=SESSION, to=EMSP)
    second = {"kwh": 4, "last_updated": "2026-03-02T08:30:00Z"}
    world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=second, to=EMSP)
    world.net.run(T0)
    *_, resent, latest = [r for r in world.emsp.received if r.module == "sessions"]
    assert resent.body["last_updated"] == "2026-03-02T08:00:00Z"  # passed on as sent
    assert latest.body["kwh"] == 4 and latest.body["last_updated"] == "2026-03-02T08:30:00Z"
    assert _periods(latest.body) == ["2026-03-02T08:00:00Z", "2026-03-02T08:15:00Z"]


def test_put_only_hub_refuses_a_patch_of_a_session_it_never_saw() -> None:
    world = build("aggregating")
    rid = world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S9", T0, body={"kwh": 1}, to=EMSP)
    world.net.run(T0)
    assert world.cpo_a.answers[rid].json()["status_code"] == 2001
    assert not [r for r in world.emsp.received if r.module == "sessions"]


def test_forwarding_hub_passes_a_session_patch_on_as_a_patch() -> None:
    world = build("routing-only")
    world.cpo_a.call("PATCH", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body={"kwh": 1}, to=EMSP)
    world.net.run(T0)
    got = world.emsp.received[-1]
    assert (got.method, got.suffix, got.body) == ("PATCH", "/DE/CPA/S1", {"kwh": 1})


def test_hub_scoped_ids_for_sessions_and_cdrs_map_back_for_commands() -> None:
    world = build("aggregating")
    world.cpo_a.call("PUT", "sessions", "RECEIVER", "/DE/CPA/S1", T0, body=SESSION, to=EMSP)
    world.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=CDR, to=EMSP)
    world.net.run(T0)
    session, cdr = [r for r in world.emsp.received if r.module in ("sessions", "cdrs")]
    assert session.body["id"] == "HUB-S000001"
    assert (cdr.body["id"], cdr.body["session_id"]) == ("HUB-C000001", "HUB-S000001")
    assert world.hub.truth.id_map == [
        ("session", "DE/CPA", "S1", "HUB-S000001"),
        ("cdr", "DE/CPA", "CDR1", "HUB-C000001"),
    ]
    stop = {
        "response_url": "http://emsp.local/ocpi/2.2.1/commands/STOP_SESSION/1",
        "session_id": "HUB-S000001",
    }
    world.emsp.call("POST", "commands", "RECEIVER", "/STOP_SESSION", T0, body=stop, to=CPO_A)
    world.net.run(T0)
    assert world.cpo_a.received[-1].body["session_id"] == "S1"


def test_hub_scoped_ids_in_a_pulled_list_of_cdrs() -> None:
    world = build("aggregating")
    world.cpo_a.objects["cdrs"] = [CDR]
    rid = world.emsp.call("GET", "cdrs", "SENDER", "", T0, to=CPO_A)
    world.net.run(T0)
    [item] = world.emsp.answers[rid].json()["data"]
    assert (item["id"], item["session_id"]) == ("HUB-C000001", "HUB-S000001")


@pytest.mark.parametrize(
    ("asked", "sent"),
    [("", "limit=20"), ("?limit=100", "limit=20"), ("?limit=5", "limit=5"),
     # not an OCPI integer: the cap, as for "abc" (int() read an Arabic-Indic 3 as 3, and -5 went on)
     ("?limit=%D9%A3", "limit=20"), ("?limit=-5", "limit=20"), ("?limit=1_0", "limit=20")],
)  # fmt: skip
def test_page_cap_limits_what_a_list_get_asks_for(asked: str, sent: str) -> None:
    world = build("aggregating")
    world.emsp.call("GET", "locations", "SENDER", asked, T0, to=CPO_A)
    world.net.run(T0)
    assert world.net.sent_to("cpo-a")[-1].url == f"http://cpo-a.local/ocpi/2.2.1/locations?{sent}"


CREDIT = CDR | {"id": "CDR1-CR", "credit": True, "credit_reference_id": "CDR1", "total_energy": -12.5}
REPLACEMENT = CDR | {"id": "CDR1-R1", "total_energy": 11.0}
OTHER_SESSION = CDR | {"id": "CDR2", "session_id": "S2"}


@pytest.mark.parametrize(
    ("cdrs", "fees"),
    [
        ([CDR], [("HUB-C000001", "CDR1")]),
        ([CDR, CDR], [("HUB-C000001", "CDR1")]),  # the CPO sends it again: still one fee
        ([CDR, OTHER_SESSION], [("HUB-C000001", "CDR1"), ("HUB-C000002", "CDR2")]),
        # A credit and a replacement of the same session: one fee (the eMSP books one per session).
        ([CDR, CREDIT, REPLACEMENT], [("HUB-C000001", "CDR1")]),
        ([CDR, CREDIT, REPLACEMENT, OTHER_SESSION], [("HUB-C000001", "CDR1"), ("HUB-C000004", "CDR2")]),
    ],
)
def test_fee_recorded_once_per_session_whose_cdr_was_delivered(
    cdrs: list[dict[str, object]], fees: list[tuple[str, str]]
) -> None:
    world = build("aggregating")
    for cdr in cdrs:
        world.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=cdr, to=EMSP)
    world.net.run(T0)
    charged = world.hub.truth.fees
    assert [(f.cdr_id, f.original_cdr_id) for f in charged] == fees
    assert all(
        (f.cpo, f.emsp, f.amount, f.currency) == ("DE/CPA", "NL/EMS", Decimal("0.25"), "EUR") for f in charged
    )


def test_a_credit_cdr_names_the_credited_cdr_by_the_hub_id_it_was_delivered_under() -> None:
    world = build("aggregating")
    for cdr in (CDR, CREDIT, REPLACEMENT):
        world.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=cdr, to=EMSP)
    world.net.run(T0)
    original, credit, replacement = [r.body for r in world.emsp.received if r.module == "cdrs"]
    assert credit["credit_reference_id"] == original["id"] == "HUB-C000001"
    assert credit["id"] == "HUB-C000002" and replacement["id"] == "HUB-C000003"
    assert {original["session_id"], credit["session_id"], replacement["session_id"]} == {"HUB-S000001"}


def test_a_routing_only_hub_charges_no_fee_and_changes_no_cdr() -> None:
    plain = build("routing-only")
    plain.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=CDR, to=EMSP)
    plain.net.run(T0)
    assert plain.emsp.received[-1].body == CDR and plain.hub.truth.fees == []


def test_open_routing_sends_a_push_without_to_headers_to_the_only_emsp() -> None:
    world = build("aggregating")
    rid = world.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=CDR, omit="to")
    world.net.run(T0)
    assert world.cpo_a.answers[rid].json()["status_code"] == 1000
    got = world.emsp.received[-1]
    assert got.module == "cdrs" and got.header("OCPI-to-party-id") == "EMS"


def test_added_latency_is_the_personas() -> None:
    assert build("aggregating").hub.added_latency == timedelta(milliseconds=80)
    assert build("routing-only").hub.added_latency == timedelta(milliseconds=20)


def test_open_routing_broadcasts_a_push_it_cannot_place_and_refuses_an_ambiguous_get() -> None:
    world = build("aggregating")
    token = {"country_code": "NL", "party_id": "EMS", "uid": "AA11"}
    pushed = world.emsp.call("PUT", "tokens", "RECEIVER", "/NL/EMS/AA11", T0, body=token, omit="to")
    pulled = world.emsp.call("GET", "locations", "SENDER", "", T0, omit="to")  # two CPOs: which one?
    world.net.run(T0)
    assert world.emsp.answers[pushed].json()["status_code"] == 1000
    for cpo in (world.cpo_a, world.cpo_b):
        assert [r.body for r in cpo.received if r.module == "tokens"] == [token]
    assert world.emsp.answers[pulled].json()["status_code"] == 2001
    assert not [r for r in world.cpo_a.received + world.cpo_b.received if r.module == "locations"]

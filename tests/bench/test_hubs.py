"""Roaming hubs in a scenario (issue 10, items 3 and 5): topology validated at load, every hop of a
hub CPO's traffic routed and traced through the hub in `sim`, per-party figures across channels."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import run_sim, trace, variant

from bench.runner import run_scenario
from bench.scenario import ScenarioError, load_scenario
from emsp.storage.tables import ClientInfoRow

HUB_CPOS = ("cpo-hub-a", "cpo-hub-b", "cpo-hub-c", "cpo-hub-d")


def _small(data: dict[str, Any]) -> None:
    """hub-roaming over 40 minutes, without its expectations (sized for the full two hours)."""
    data["duration_minutes"] = 40
    data["settle_minutes"] = 20
    data["expectations"] = []


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda d: d["cpos"][1].pop("hub"), "cpos[1]", "connection: hub needs `hub:`"),
        (lambda d: d["cpos"][1].update(hub="hub-nowhere"), "cpos[1].hub", "unknown hub 'hub-nowhere'"),
        (lambda d: d["cpos"][0].update(hub="hub-eu"), "cpos[0]", "needs connection: hub"),
        (lambda d: d["cpos"][1].update(ocpi_version="2.1.1"), "cpos[1]", "2.2.1"),
        (lambda d: d["hubs"][0].update(id="cpo-direct"), "(root)", "already the id of the eMSP or a CPO"),
        (
            lambda d: d["hubs"][0].update(party_id="EMS"),
            "(root)",
            "a party (country_code, party_id) of their own",
        ),
        (lambda d: d["hubs"].append(dict(d["hubs"][0])), "(root)", "hub ids must be unique"),
        (lambda d: d["hubs"][0].pop("persona"), "hubs[0].persona", "Field required"),
    ],
)
def test_invalid_hub_topology_names_file_field_and_reason(
    tmp_path: Path, mutate: Any, field: str, reason: str
) -> None:
    path = variant(tmp_path, "hub-roaming", mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert (caught.value.file, caught.value.field) == (str(path), field)
    assert reason in caught.value.reason


def test_an_outage_may_name_a_hub(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        outage = {"type": "outage", "party": "hub-eu", "from": "2026-03-02T07:10:00Z"}
        data["events"] = [outage | {"until": "2026-03-02T07:20:00Z"}]

    scenario, _ = load_scenario(str(variant(tmp_path, "hub-roaming", mutate)))
    assert [event.party for event in scenario.events] == ["hub-eu"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("persona", "files", "reason"),
    [
        ("nowhere", {}, "unknown hub persona 'nowhere'"),
        ("personas/missing.yaml", {}, "no such persona file 'personas/missing.yaml'"),
        ("personas/bad.yaml", {"personas/bad.yaml": "name: bad\npage_cap: 0\n"}, "field page_cap"),
        ("personas/list.yaml", {"personas/list.yaml": "- 1\n"}, "must be a mapping of knobs"),
    ],
)
def test_a_hub_persona_that_cannot_be_loaded_is_invalid_input_before_the_run_directory(
    tmp_path: Path, persona: str, files: dict[str, str], reason: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = variant(tmp_path, "hub-roaming", lambda d: d["hubs"][0].update(persona=persona))
    out = tmp_path / "run"
    with pytest.raises(ScenarioError) as caught:
        run_scenario(str(path), out=out)
    assert (caught.value.file, caught.value.field) == (str(path), "hubs[0].persona")
    assert reason in caught.value.reason
    assert not out.exists()


def test_a_persona_file_beside_the_scenario_is_used(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "scenarios/hubs/routing-only.yaml").read_text("utf-8")
    (tmp_path / "mine.yaml").write_text(text.replace("name: routing-only", "name: mine"), encoding="utf-8")

    def mutate(data: dict[str, Any]) -> None:
        _small(data)
        data["hubs"][0]["persona"] = "mine.yaml"

    outcome = run_scenario(str(variant(tmp_path, "hub-roaming", mutate)), seed=2, out=tmp_path / "run")
    assert outcome.world.hubs["hub-eu"].persona.name == "mine"
    # Routing-only: no fee, ids kept, and the CPOs' sessions still reconcile through it.
    assert outcome.summary["hubs"]["hub-eu"]["fees"] == {}
    for cpo_id in HUB_CPOS:
        figures = outcome.summary["partners"][cpo_id]
        assert figures["reconciliation"]["matched"] == figures["sessions"]["completed"]


def test_an_expectation_may_name_hub_figures_and_an_unknown_one_is_invalid(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["expectations"] = [{"metric": "hubs.hub-eu.fees.USD", "op": ">=", "value": 0}]

    with pytest.raises(ScenarioError) as caught:
        run_scenario(str(variant(tmp_path, "hub-roaming", mutate)), out=tmp_path / "run")
    assert "hubs.hub-eu.fees.USD" in str(caught.value)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[dict[str, Any]]]:
    tmp_path = tmp_path_factory.mktemp("hub-run")
    monkeypatch = pytest.MonkeyPatch()
    try:
        outcome = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", _small), 3, tmp_path / "run")
    finally:
        monkeypatch.undo()
    return outcome, trace(outcome.run_dir)


def test_per_party_figures_stay_per_cpo_whatever_the_channel(small_run: tuple[Any, Any]) -> None:
    outcome, _ = small_run
    summary = outcome.summary
    assert list(summary["partners"]) == ["cpo-direct", *HUB_CPOS]
    total = 0
    for cpo_id in ("cpo-direct", *HUB_CPOS):
        figures = summary["partners"][cpo_id]
        completed = figures["sessions"]["completed"]
        assert figures["cdrs"] == completed
        assert figures["reconciliation"]["matched"] == completed
        assert figures["energy_kwh"]["invoiced"] == figures["energy_kwh"]["truth"]
        total += completed
    assert total == summary["sessions"]["completed"] > 0
    assert sum(summary["partners"][c]["sessions"]["completed"] for c in HUB_CPOS) > 0


def test_the_hub_figures_come_from_its_truth(small_run: tuple[Any, Any]) -> None:
    outcome, _ = small_run
    hub = outcome.world.hubs["hub-eu"]
    figures = outcome.summary["hubs"]["hub-eu"]
    assert list(figures) == ["forwarded", "stored", "late", "resent", "dropped", "fees"]
    hub_cdrs = sum(outcome.summary["partners"][c]["cdrs"] for c in HUB_CPOS)
    # aggregating: 0.25 EUR per session whose CDR the eMSP accepted, once each
    assert figures["fees"] == {"EUR": str(len(hub.truth.fees) * 0.25).rstrip("0").rstrip(".")}
    assert len(hub.truth.fees) == hub_cdrs
    assert figures["forwarded"] == len({hop.request_out for hop in hub.truth.hops if hop.attempt == 1})
    assert figures["dropped"] == 0


def test_a_channel_shows_cpo_revenue_after_fees_not_a_margin_beside_the_billed_margin(
    small_run: tuple[Any, Any], tmp_path: Path
) -> None:
    outcome, _ = small_run
    hub = outcome.summary["channels"]["hub-eu"]
    assert "margin" not in hub  # the eMSP's margin is `billed.margin` (billing runs) only
    for currency, fee in hub["hub_fees"].items():
        left = Decimal(hub["revenue"][currency]) - Decimal(fee)
        assert Decimal(hub["cpo_revenue_after_fees"][currency]) == left

    def mutate(data: dict[str, Any]) -> None:
        data["expectations"] = [{"metric": "channels.hub-eu.margin.EUR", "op": ">=", "value": 0}]

    with pytest.raises(ScenarioError, match=r"channels\.hub-eu\.margin\.EUR"):
        run_scenario(str(variant(tmp_path, "hub-roaming", mutate)), out=tmp_path / "run")


def test_the_hub_renames_sessions_and_reconciliation_maps_them_back(small_run: tuple[Any, Any]) -> None:
    outcome, _ = small_run
    records = outcome.world.emsp.records()
    through_hub = [s for s in records.sessions if s.partner == "hub-eu"]
    assert through_hub and all(s.session_id.startswith("HUB-S") for s in through_hub)
    assert all(s.partner != "hub-eu" for s in records.sessions if s.party.party_id == "DIR")
    assert outcome.summary["reconciliation"]["matched"] == outcome.summary["sessions"]["completed"]


def test_each_hop_is_traced_with_routing_headers_its_own_request_id_and_the_same_correlation(
    small_run: tuple[Any, Any],
) -> None:
    _, lines = small_run
    ocpi = [line for line in lines if line["proto"].startswith("ocpi")]
    first = next(
        line
        for line in ocpi
        if (line["src"], line["dst"], line["kind"], line["method"])
        == ("cpo-hub-a", "hub-eu", "request", "POST")
        and "/cdrs/" in line["url"]
    )
    correlation = first["headers"]["X-Correlation-ID"]
    assert (first["headers"]["OCPI-from-party-id"], first["headers"]["OCPI-to-party-id"]) == ("HBA", "EMS")
    # The CPO correlates a session's messages by its id: the CDR POST's hops are the POSTs.
    hops = [
        line
        for line in ocpi
        if line["headers"].get("X-Correlation-ID") == correlation and line["method"] == "POST"
    ]
    route = [(line["src"], line["dst"], line["kind"]) for line in hops]
    assert route == [
        ("cpo-hub-a", "hub-eu", "request"),
        ("hub-eu", "emsp", "request"),
        ("emsp", "hub-eu", "response"),
        ("hub-eu", "cpo-hub-a", "response"),
    ]
    forward = next(line for line in hops if (line["src"], line["kind"]) == ("hub-eu", "request"))
    assert forward["url"].startswith("http://emsp.local/ocpi/2.2.1/cdrs")
    assert forward["headers"]["X-Request-ID"] != first["headers"]["X-Request-ID"]
    assert forward["headers"]["X-Request-ID"].startswith("hub-eu-")
    assert (forward["headers"]["OCPI-from-country-code"], forward["headers"]["OCPI-from-party-id"]) == (
        "DE",
        "HBA",
    )
    assert forward["body"]["id"].startswith("HUB-C") and forward["body"]["session_id"].startswith("HUB-S")
    answer = hops[-1]
    assert answer["headers"]["X-Request-ID"] == first["headers"]["X-Request-ID"]
    assert answer["body"]["status_code"] == 1000
    assert first["t"] < forward["t"]  # the hub's own latency and the link come between


def test_the_bilateral_cpo_never_touches_the_hub(small_run: tuple[Any, Any]) -> None:
    _, lines = small_run
    direct = [
        line
        for line in lines
        if "cpo-direct" in (line["src"], line["dst"]) and line["proto"].startswith("ocpi")
    ]
    assert direct and {(line["src"], line["dst"]) for line in direct} <= {
        ("cpo-direct", "emsp"),
        ("emsp", "cpo-direct"),
    }


def test_same_scenario_and_seed_give_the_same_trace_and_summary(
    small_run: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome, _ = small_run
    again = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", _small), 3, tmp_path / "again")
    for name in ("trace.jsonl", "summary.json"):
        assert (again.run_dir / name).read_bytes() == (outcome.run_dir / name).read_bytes()


def test_the_hub_pushes_client_info_and_each_cpo_behind_it_hears_every_party(
    small_run: tuple[Any, Any],
) -> None:
    outcome, lines = small_run
    pushes = [
        line
        for line in lines
        if line.get("kind") == "request" and line["method"] == "PUT" and "/hubclientinfo/" in line["url"]
    ]
    assert pushes and {line["src"] for line in pushes} == {"hub-eu"}
    assert {line["dst"] for line in pushes} == {*HUB_CPOS, "emsp"}  # the eMSP has a receiver too
    # A configuration module: no routing headers; each push is a hop of its own.
    assert not any("OCPI-to-party-id" in line["headers"] for line in pushes)
    assert len({line["headers"]["X-Request-ID"] for line in pushes}) == len(pushes)
    for cpo_id in HUB_CPOS:
        heard = outcome.world.cpos[cpo_id].ocpi.client_info
        own = (outcome.world.cpos[cpo_id].ocpi.country_code, outcome.world.cpos[cpo_id].ocpi.party_id)
        others = {("NL", "EMS"), ("DE", "HBA"), ("BE", "HBB"), ("FR", "HBC"), ("AT", "HBD")} - {own}
        assert set(heard) == others
        assert all(info["status"] == "CONNECTED" for info in heard.values())
    # The eMSP keeps what the hub told it, per party (mod_hub_client_info Receiver).
    with outcome.world.emsp.db.unit() as db:
        kept = {(r.country_code, r.party_id): r.status for r in db.query(ClientInfoRow)}
    assert kept == dict.fromkeys([("DE", "HBA"), ("BE", "HBB"), ("FR", "HBC"), ("AT", "HBD")], "CONNECTED")


def test_the_emsp_pulls_a_party_behind_the_hub_through_it_with_routing_headers(
    small_run: tuple[Any, Any],
) -> None:
    _outcome, lines = small_run
    pulls = [
        line
        for line in lines
        if line.get("kind") == "request" and line["src"] == "emsp" and "/sender" in line["url"]
    ]
    assert {line["dst"] for line in pulls} == {"hub-eu"}
    targets = {
        (line["headers"]["OCPI-to-country-code"], line["headers"]["OCPI-to-party-id"]) for line in pulls
    }
    assert targets == {("DE", "HBA"), ("BE", "HBB"), ("FR", "HBC"), ("AT", "HBD")}
    assert all(line["headers"]["OCPI-from-party-id"] == "EMS" for line in pulls)
    # the hub forwards each to the CPO as a hop of its own: a new request id, the same correlation
    for pull in pulls[:4]:
        forward = next(
            line
            for line in lines
            if line.get("kind") == "request"
            and line["src"] == "hub-eu"
            and line["headers"].get("X-Correlation-ID") == pull["headers"]["X-Correlation-ID"]
        )
        assert forward["headers"]["X-Request-ID"] != pull["headers"]["X-Request-ID"]
        assert forward["dst"] in HUB_CPOS
        assert forward["headers"]["OCPI-to-party-id"] == pull["headers"]["OCPI-to-party-id"]


def test_a_hub_outage_cuts_only_the_cpos_behind_it_and_their_backlog_arrives_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outcome = run_sim(monkeypatch, "hub-outage", 1, tmp_path)
    window = ("2026-03-02T07:50:00", "2026-03-02T08:00:00.2")  # a reset may travel back a link's delay
    for cpo_id in ("cpo-hub-a", "cpo-hub-b", "cpo-hub-c"):
        truth = outcome.world.cpos[cpo_id].ocpi.truth
        failed = [at for at, _kind, _code, _why in truth.failed_calls]
        assert failed and all(window[0] <= at < window[1] for at in failed), cpo_id
        # it kept retrying (backoff) and its backlog went once the hub was back
        assert truth.resent and max(at for at, _kind, _url in truth.resent) >= "2026-03-02T08:00:00"
    assert outcome.world.cpos["cpo-direct"].ocpi.truth.failed_calls == []
    summary = outcome.summary
    assert summary["reconciliation"]["matched"] == summary["sessions"]["completed"]
    assert summary["reconciliation"]["missing_cdr"] == summary["reconciliation"]["duplicate_cdr"] == 0


def test_an_emsp_outage_behind_the_hub_is_held_by_the_hub_and_delivered_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        _small(data)
        outage = {"type": "outage", "party": "emsp", "mode": "refused", "from": "2026-03-02T07:15:00Z"}
        data["events"] = [outage | {"until": "2026-03-02T07:25:00Z"}]

    outcome = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", mutate), 4, tmp_path / "run")
    summary, hub = outcome.summary, outcome.world.hubs["hub-eu"]
    # The aggregating hub answered its CPOs 1000 and kept their pushes until the eMSP was back.
    assert summary["hubs"]["hub-eu"]["stored"] >= 1 and summary["hubs"]["hub-eu"]["dropped"] == 0
    held = [since for since, _at, _corr, _key in hub.truth.late]
    assert any("2026-03-02T07:15:00" <= since < "2026-03-02T07:25:01" for since in held)
    assert summary["reconciliation"]["matched"] == summary["sessions"]["completed"]
    assert summary["reconciliation"]["missing_cdr"] == summary["reconciliation"]["duplicate_cdr"] == 0
    delivery = summary["cdr_delivery"]
    assert delivery["resent_recognised"] == delivery["resent"]
    # Real-time authorizations were never held: the hub answered 4003 at once, the CPO refused (or
    # fell back on its whitelist), and the truth blames the outage, not the eMSP.
    assert not [key for *_, key in hub.truth.late if key.startswith("tokens:SENDER")]
    assert summary["reconciliation"]["wrongly_refused"] == 0
    assert summary["reconciliation"]["refused_unreachable"] >= 1


def test_a_hub_down_when_the_run_starts_registers_once_back_and_its_cpos_after_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        _small(data)
        outage = {"type": "outage", "party": "hub-eu", "mode": "refused", "from": "2026-03-02T07:00:00Z"}
        data["events"] = [outage | {"until": "2026-03-02T07:10:00Z"}]

    outcome = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", mutate), 1, tmp_path / "run")
    hub = outcome.world.hubs["hub-eu"]
    # Its first handshake went nowhere; it kept trying (backoff) and got through after the outage.
    assert hub.truth.refused and all(at < "2026-03-02T07:10:01" for at, *_ in hub.truth.refused)
    assert hub.registry["emsp"].registered
    for cpo_id in HUB_CPOS:
        registered_at = outcome.world.cpos[cpo_id].ocpi.truth.registered_at
        assert registered_at is not None and registered_at >= datetime(2026, 3, 2, 7, 10, tzinfo=UTC), cpo_id
    summary = outcome.summary
    assert all(summary["partners"][cpo_id]["sessions"]["completed"] > 0 for cpo_id in HUB_CPOS)
    assert summary["reconciliation"]["matched"] == summary["sessions"]["completed"] > 0


def test_the_hub_fee_is_a_cost_of_each_session_through_it_and_the_channel_margin_shows_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        _small(data)
        data["demand"]["contracts"] = {"pay_as_you_go": 1.0}
        data["demand"]["retail"] = {
            "pay_as_you_go": {"currency": "EUR", "price_per_kwh": "0.59", "session_fee": "0.35"},
            "account_time_zone": "Europe/Amsterdam",
            "account_country": "NL",
        }

    outcome = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", mutate), 3, tmp_path / "run")
    billing, hub = outcome.summary["billing"], outcome.world.hubs["hub-eu"]
    cdrs = outcome.world.emsp.records().cdrs
    assert billing["sessions_billed"] == outcome.summary["sessions"]["completed"] > 0
    cent = Decimal("0.01")
    charged = sum((f.amount for f in hub.truth.fees), Decimal(0))
    assert charged == Decimal("0.25") * sum(1 for c in cdrs if c.partner == "hub-eu") > 0
    for channel, partner_of in (("hub-eu", lambda p: p == "hub-eu"), ("bilateral", lambda p: p != "hub-eu")):
        retail = Decimal(billing["channel_retail"][channel])
        # The CPOs' cost from the eMSP's CDRs; the fees from what the hub itself charged.
        wholesale = sum((c.total_cost.excl_vat for c in cdrs if partner_of(c.partner)), Decimal(0))
        fees = charged if channel == "hub-eu" else Decimal(0)
        margin = Decimal(billing["channel_margin"][channel])
        assert margin.quantize(cent) == (retail - wholesale - fees).quantize(cent), channel
        assert Decimal(billing["channel_hub_fees"][channel]) == fees, channel
        billed = outcome.summary["channels"][channel]["billed"]
        assert {k: Decimal(v) for k, v in billed.items()} == {
            "retail": retail,
            "wholesale": Decimal(billing["channel_wholesale"][channel]),
            "hub_fees": fees,
            "margin": margin,
        }
    assert Decimal(billing["hub_fees_total"]) == charged


def test_an_app_start_behind_the_hub_goes_through_it_and_its_result_comes_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        _small(data)
        data["demand"]["app_start_share"] = 0.5

    outcome = run_sim(monkeypatch, variant(tmp_path, "hub-roaming", mutate), 3, tmp_path / "run")
    lines = trace(outcome.run_dir)
    commands = outcome.world.emsp.records().commands
    behind = [c for c in commands if c.party.party_id != "DIR"]
    assert behind and all(c.partner == "hub-eu" for c in behind)
    assert all(c.partner == "cpo-direct" for c in commands if c.party.party_id == "DIR")
    assert all(c.state == "COMPLETED" and c.result == "ACCEPTED" for c in commands)
    starts = outcome.summary["commands"]["app_starts"]
    assert starts["requested"] == starts["charged"] == starts["invoiced"] == len(commands)
    emsp_base = outcome.world.emsp_base_url.rstrip("/")
    requests = [line for line in lines if line["proto"].startswith("ocpi") and line["kind"] == "request"]
    for command in behind:
        party = (command.party.country_code, command.party.party_id)
        ours = f"{emsp_base}/2.2.1/commands/START_SESSION/{command.command_id}"
        # To the hub, naming the CPO party; the hub forwards it with its own request id.
        [sent] = [
            line
            for line in requests
            if (line["src"], line["dst"]) == ("emsp", "hub-eu")
            and isinstance(line["body"], dict)
            and line["body"].get("response_url") == ours
        ]
        assert (sent["headers"]["OCPI-to-country-code"], sent["headers"]["OCPI-to-party-id"]) == party
        [forward] = [
            line
            for line in requests
            if line["src"] == "hub-eu"
            and line["dst"].startswith("cpo-hub-")
            and line["headers"].get("X-Correlation-ID") == sent["headers"]["X-Correlation-ID"]
        ]
        assert forward["headers"]["X-Request-ID"] != sent["headers"]["X-Request-ID"]
        theirs = forward["body"]["response_url"]
        assert theirs.startswith("http://hub-eu.hub.local/")  # the hub rewrote our response_url
        # The CPO posts the CommandResult to the hub, which forwards it to our response_url.
        [posted] = [line for line in requests if line["dst"] == "hub-eu" and line["url"] == theirs]
        assert posted["src"] == forward["dst"]
        [result] = [
            line
            for line in requests
            if (line["src"], line["dst"]) == ("hub-eu", "emsp") and line["url"] == ours
        ]
        from_party = (result["headers"]["OCPI-from-country-code"], result["headers"]["OCPI-from-party-id"])
        assert from_party == party and result["body"]["result"] == "ACCEPTED"
        assert result["headers"]["X-Request-ID"] != posted["headers"]["X-Request-ID"]

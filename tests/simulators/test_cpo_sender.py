"""The mock CPO's Sender interfaces (paginated GET lists, GET one Location) and Tokens receiver."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cpo_versions import T0, charge, make_cpo

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, dumps, loads
from simulators.cpo.ocpi_cpo import OcpiCpo
from simulators.cpo.sender import MAX_LIMIT, Published, paginate

TOKEN_B = "Token " + base64.b64encode(b"cpo-a-token-b").decode()


def call(
    cpo: OcpiCpo, method: str, path: str, body: Any = None, token: str = TOKEN_B
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": token}
    request = HttpRequest(
        method, f"http://cpo.test/ocpi/{path}", headers, None if body is None else dumps(body)
    )
    response = cpo.handle(request, T0)
    return response.status, loads(response.body or "null"), response.headers


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
def test_lists_hold_what_the_cpo_pushed_in_its_version(version: str) -> None:
    cpo, emsp = charge(version)
    for module, method in (("tariffs", "PUT"), ("locations", "PUT"), ("cdrs", "POST")):
        status, envelope, headers = call(cpo, "GET", f"{version}/{module}")
        assert status == 200 and envelope["status_code"] == 1000
        assert envelope["data"] == emsp.bodies(method, module)  # the same wire form, pull or push
        assert (
            headers["X-Total-Count"] == "1" and headers["X-Limit"] == str(MAX_LIMIT) and "Link" not in headers
        )
    status, envelope, _ = call(cpo, "GET", f"{version}/sessions")
    assert envelope["data"] == [emsp.bodies("PUT", "sessions")[-1]]  # the session as it is now


def test_date_filters_and_get_one_location() -> None:
    cpo, _ = charge("2.2.1")
    later = format_utc(T0 + timedelta(minutes=1))
    _, envelope, headers = call(cpo, "GET", f"2.2.1/sessions?date_from={later}")
    assert len(envelope["data"]) == 1 and headers["X-Total-Count"] == "1"  # last updated at 08:00
    _, envelope, _ = call(cpo, "GET", f"2.2.1/locations?date_to={format_utc(T0)}")
    assert envelope["data"] == []  # date_to is exclusive; the location was last updated at T0
    _, envelope, _ = call(cpo, "GET", f"2.2.1/locations?date_from={format_utc(T0)}")
    assert [loc["id"] for loc in envelope["data"]] == ["LOC1"]  # date_from is inclusive
    assert call(cpo, "GET", "2.2.1/locations/LOC1")[1]["data"]["id"] == "LOC1"
    assert call(cpo, "GET", "2.2.1/locations/LOC1/CS1-2")[1]["data"]["uid"] == "CS1-2"
    assert call(cpo, "GET", "2.2.1/locations/LOC1/CS1-2/1")[1]["data"]["id"] == "1"
    for missing in ("LOC9", "LOC1/CS9-1", "LOC1/CS1-2/9", "LOC1/CS1-2/1/x"):
        status, envelope, _ = call(cpo, "GET", f"2.2.1/locations/{missing}")
        assert (status, envelope["status_code"]) == (404, 2003), missing


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=-1", "limit"),
        ("offset=x", "offset"),
        ("date_from=yesterday", "date_from"),
        # as the eMSP's lists (tests/emsp/ocpi/test_pagination.py): ASCII digits only, no "3" read
        # from an Arabic-Indic digit, no "1_0" or " 7 "
        ("offset=%D9%A3", "offset"),
        ("limit=1_0", "limit"),
        ("offset=%207%20", "offset"),
    ],
)
def test_a_bad_query_is_2001_not_a_crash(query: str, reason: str) -> None:
    cpo, _ = charge("2.2.1")
    status, envelope, _ = call(cpo, "GET", f"2.2.1/cdrs?{query}")
    assert (status, envelope["status_code"]) == (400, 2001) and reason in envelope["status_message"]


def test_the_wrong_token_or_version_gets_nothing() -> None:
    cpo, _ = charge("2.2.1")
    assert call(cpo, "GET", "2.2.1/cdrs", token="Token " + base64.b64encode(b"guess").decode())[0] == 401
    assert call(cpo, "GET", "2.1.1/cdrs")[0] == 404  # a 2.2.1 CPO serves only 2.2.1
    assert call(cpo, "POST", "2.2.1/cdrs", body={})[0] == 405


def test_tokens_receiver_put_patch_get_and_the_cdr_names_the_pushed_contract() -> None:
    cpo = make_cpo("2.2.1")
    token = {"country_code": "NL", "party_id": "EMS", "uid": "BB22", "type": "RFID",
             "contract_id": "NL-EMS-C9", "issuer": "EMS", "valid": True, "whitelist": "ALLOWED",
             "last_updated": "2026-03-02T07:00:00Z"}  # fmt: skip
    assert call(cpo, "PATCH", "2.2.1/tokens/NL/EMS/BB22", {"valid": False})[0] == 404  # not PUT yet
    assert call(cpo, "PUT", "2.2.1/tokens/NL/EMS/BB22", token | {"uid": "OTHER"})[1]["status_code"] == 2001
    assert call(cpo, "PUT", "2.2.1/tokens/NL/EMS/BB22?type=RFID", token)[1]["status_code"] == 1000
    assert call(cpo, "PATCH", "2.2.1/tokens/NL/EMS/BB22", {"valid": False})[1]["status_code"] == 1000
    assert call(cpo, "GET", "2.2.1/tokens/NL/EMS/BB22")[1]["data"]["valid"] is False
    assert call(cpo, "PUT", "2.2.1/tokens/NL/EMS/BB22", "not an object")[0] == 400
    info = cpo.token_info("BB22")
    assert info is not None and info.contract_id == "NL-EMS-C9"


@pytest.mark.parametrize("uid", ["t%C3%B6k%C3%A9n", "RFID%C2%A0", "%E2%80%8B", "R%00", "X" * 37])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "GET"])
def test_a_token_uid_that_is_no_cistring_is_2001_and_stores_nothing(uid: str, method: str) -> None:
    cpo = make_cpo("2.2.1")
    token = {"country_code": "NL", "party_id": "EMS", "uid": unquote(uid), "type": "RFID",
             "contract_id": "NL-EMS-C9", "issuer": "EMS", "valid": True, "whitelist": "ALLOWED",
             "last_updated": "2026-03-02T07:00:00Z"}  # fmt: skip
    status, envelope, _ = call(cpo, method, f"2.2.1/tokens/NL/EMS/{uid}", None if method == "GET" else token)
    assert (status, envelope["status_code"]) == (400, 2001)
    assert "CiString(36)" in envelope["status_message"]
    assert cpo.token_info(unquote(uid)) is None


OBJECTS = st.lists(st.integers(min_value=0, max_value=5), max_size=30).map(
    lambda minutes: [
        {"id": str(i), "last_updated": format_utc(T0 + timedelta(minutes=m))} for i, m in enumerate(minutes)
    ]
)


@settings(max_examples=60, deadline=None)
@given(OBJECTS, st.integers(min_value=1, max_value=80), st.integers(0, 5), st.integers(0, 6))
def test_following_link_pages_yields_every_match_once_in_order(
    objects: list[dict[str, Any]], limit: int, low: int, high: int
) -> None:
    query = {"limit": str(limit), "date_from": format_utc(T0 + timedelta(minutes=low)),
             "date_to": format_utc(T0 + timedelta(minutes=high))}  # fmt: skip
    url, seen = "http://cpo.test/ocpi/2.2.1/cdrs", []
    expected = [o for o in objects if low <= int(o["last_updated"][14:16]) < high]
    for _ in range(len(objects) + 2):
        page = paginate(objects, url, query)
        seen += page.items
        assert page.headers["X-Total-Count"] == str(len(expected))
        assert int(page.headers["X-Limit"]) == min(limit, MAX_LIMIT) >= len(page.items)
        if "Link" not in page.headers:
            break
        link = page.headers["Link"]
        assert link.endswith('>; rel="next"') and "date_from=" in link and "date_to=" in link
        url = link[1 : link.index(">")]
        query = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))
        query = {k: v.replace("%3A", ":") for k, v in query.items()}
    assert seen == expected


def test_a_token_push_nested_past_the_stack_is_2001_not_a_crash() -> None:
    # An eMSP under test (live, or a real one) sending [[[...]]] must get "not a JSON object", and the
    # mock CPO must not raise a RecursionError (the run would end as a bench fault, exit 3).
    cpo = make_cpo("2.2.1")
    deep = "[" * 100_000 + "]" * 100_000
    request = HttpRequest(
        "PUT", "http://cpo.test/ocpi/2.2.1/tokens/NL/EMS/BB22", {"Authorization": TOKEN_B}, deep
    )
    response = cpo.handle(request, T0)
    assert response.status == 400 and loads(response.body or "null")["status_code"] == 2001
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(deep)


def test_compact_store_serves_the_same_text_and_patches_in_place() -> None:
    """Sessions and CDRs are kept compressed: what a list serves is what was published, Decimal
    digits and all, and a PATCH then a PUT of a compacted session lands in the listed object."""
    from decimal import Decimal

    from simulators.cpo.sender import Published

    published = Published()
    session = {
        "id": "S1",
        "kwh": Decimal("1.2300"),
        "status": "ACTIVE",
        "last_updated": "2026-03-02T07:00:00Z",
    }
    published.put("sessions", "S1", session)
    published.patch("sessions", "S1", {"kwh": Decimal("2.50"), "last_updated": "2026-03-02T07:05:00Z"})
    assert dumps(published.get("sessions", "S1")) == dumps(
        session | {"kwh": Decimal("2.50"), "last_updated": "2026-03-02T07:05:00Z"}
    )
    page = published.page("sessions", "http://cpo.test/sessions", {"date_from": "2026-03-02T07:01:00Z"})
    assert [dumps(item) for item in page.items] == [dumps(published.get("sessions", "S1"))]
    assert page.headers["X-Total-Count"] == "1"
    published.put("sessions", "S1", session | {"status": "COMPLETED"})
    assert (
        published.page("sessions", "http://cpo.test/sessions", {"date_from": "2026-03-02T07:01:00Z"}).items
        == []
    )
    assert dumps(published.all("sessions")) == dumps([session | {"status": "COMPLETED"}])


def test_objects_compressed_against_the_first_read_back_exactly() -> None:
    """Each module's objects are packed against its first object (a preset dictionary): every later
    object, alike or not, reads back as the very text published, and is much smaller than alone."""
    import zlib
    from decimal import Decimal

    from simulators.cpo.sender import Published

    published = Published()
    cdrs = [
        {
            "id": f"CDR{n}",
            "cdr_location": {"id": "LOC-1", "name": "Utrecht Centraal P+R", "evse_uid": f"E{n % 3}"},
            "total_energy": Decimal(n) / 7,
            "last_updated": format_utc(T0 + timedelta(minutes=n)),
        }
        for n in range(1, 40)
    ] + [{"id": "odd", "unlike": ["anything", None, True, 1.5], "last_updated": None}]
    for cdr in cdrs:
        published.put("cdrs", str(cdr["id"]), cdr)
    assert [dumps(c) for c in published.all("cdrs")] == [dumps(c) for c in cdrs]
    body = published._objects["cdrs"]["CDR30"]
    assert isinstance(body, bytes) and len(body) < len(zlib.compress(dumps(cdrs[29]).encode(), 1)) / 2


def _session(n: int, completed: bool) -> dict[str, object]:
    from decimal import Decimal

    started = {
        "country_code": "DE",
        "party_id": "CPA",
        "id": f"S{n}",
        "start_date_time": format_utc(T0 + timedelta(minutes=n)),
        "kwh": Decimal(0),
        "cdr_token": {"uid": f"TOKEN{n:03d}", "type": "RFID", "contract_id": f"NL-EMS-C{n:08d}"},
        "status": "ACTIVE",
        "last_updated": format_utc(T0 + timedelta(minutes=n)),
    }
    if not completed:
        return started
    end = format_utc(T0 + timedelta(minutes=n + 40))
    return started | {
        "kwh": Decimal(n) / 3,
        "status": "COMPLETED",
        "end_date_time": end,
        "last_updated": end,
        "charging_periods": [
            {
                "start_date_time": started["start_date_time"],
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal(n) / 3},
                    {"type": "TIME", "volume": 0.6667},
                ],
                "tariff_id": "STD",
            }
        ],
        "total_cost": {"excl_vat": Decimal(n) / 7, "incl_vat": Decimal(n) / 6},
    }


def test_sessions_packed_before_and_after_the_dictionary_changes_read_back_exactly() -> None:
    """The first session published again (completed) seeds the dictionary for the later ones; those
    packed before keep theirs: every object reads back as published, and completed sessions pack
    smaller than against a session just started."""
    from simulators.cpo.packing import Packer
    from simulators.cpo.sender import Published

    published = Published()
    latest: dict[str, dict[str, object]] = {}
    order = [(1, False), (2, False), (1, True), (3, False), (2, True), (4, False), (3, True), (4, True)]
    for n, completed in order:
        latest[f"S{n}"] = _session(n, completed)
        published.put("sessions", f"S{n}", latest[f"S{n}"])
        assert [dumps(s) for s in published.all("sessions")] == [dumps(s) for s in latest.values()]
    body = published._objects["sessions"]["S4"]
    assert isinstance(body, bytes)
    assert len(body) < len(Packer(_session(1, False)).pack(_session(4, True))) - 40


def test_a_session_put_to_be_patched_stays_a_dict_and_packs_in_its_final_form() -> None:
    """A session the CPO will PATCH is kept as a dict from its first PUT (not packed only to be
    unpacked by the first PATCH); it reads back as published and patched, and the first one packed
    (completed) seeds the only dictionary, against which the later completed ones pack small."""
    from decimal import Decimal

    from simulators.cpo.packing import Packer
    from simulators.cpo.sender import Published

    published = Published()
    latest: dict[str, dict[str, object]] = {}
    order = [(1, False), (2, False), (2, True), (3, False), (1, True), (3, True)]
    for n, completed in order:
        latest[f"S{n}"] = _session(n, completed)
        published.put("sessions", f"S{n}", latest[f"S{n}"], patched=not completed)
        if not completed:
            assert not isinstance(published._objects["sessions"][f"S{n}"], bytes)
            update = {"kwh": Decimal("0.5"), "last_updated": format_utc(T0 + timedelta(minutes=n + 5))}
            published.patch("sessions", f"S{n}", update)
            latest[f"S{n}"] = latest[f"S{n}"] | update
        assert [dumps(s) for s in published.all("sessions")] == [dumps(s) for s in latest.values()]
    assert len(published._packers["sessions"]) == 1  # seeded by S2 completed, never reseeded
    body = published._objects["sessions"]["S3"]
    assert isinstance(body, bytes)
    assert len(body) < len(Packer(_session(1, False)).pack(_session(3, True))) - 40


UNDATED = [
    {"id": "A", "last_updated": format_utc(T0)},
    {"id": "B"},  # no last_updated at all
    {"id": "C", "last_updated": None},
    {"id": "D", "last_updated": "not a date"},
    {"id": "E", "last_updated": format_utc(T0 + timedelta(hours=1))},
]


@pytest.mark.parametrize(
    ("query", "ids", "total"),
    [
        ({}, ["A", "B", "C", "D", "E"], 5),  # unfiltered: every object, in its place (pages never shift)
        ({"date_from": format_utc(T0)}, ["A", "E"], 2),  # an undated object is in no date range
        ({"date_to": format_utc(T0 + timedelta(minutes=1))}, ["A"], 1),
        ({"offset": "1", "limit": "2"}, ["B", "C"], 5),
    ],
)
def test_an_object_without_last_updated_is_listed_unfiltered_and_left_out_by_a_date_range(
    query: dict[str, str], ids: list[str], total: int
) -> None:
    page = paginate(UNDATED, "http://cpo.test/ocpi/2.2.1/locations", query)
    assert [obj["id"] for obj in page.items] == ids
    assert page.headers["X-Total-Count"] == str(total)
    published = Published()
    for obj in UNDATED:
        published.put("sessions", obj["id"], obj)  # the compact store too
    stored = published.page("sessions", "http://cpo.test/ocpi/2.2.1/sessions", query)
    assert [obj["id"] for obj in stored.items] == ids


def test_published_objects_pack_smaller_than_the_fastest_compression_would() -> None:
    """Completed sessions stay in memory all run long (a pull may ask for any): packing spends the
    CPU of a stronger compression level once to keep each of them ~10% smaller."""
    import zlib

    from simulators.cpo.packing import RAW_DEFLATE, Packer

    packer = Packer(_session(1, True))
    first = dumps(_session(1, True)).encode("utf-8")
    fastest = 0
    packed = 0
    for n in range(2, 30):
        text = dumps(_session(n, True)).encode("utf-8")
        quick = zlib.compressobj(1, zlib.DEFLATED, RAW_DEFLATE, zdict=first)
        fastest += len(quick.compress(text) + quick.flush())
        packed += len(packer.pack(_session(n, True)))
        assert dumps(packer.unpack(packer.pack(_session(n, True)))) == dumps(_session(n, True))
    assert packed < fastest * 0.95


DATED = [
    {"id": "A", "last_updated": "2026-03-02T07:00:00Z"},
    {"id": "B", "last_updated": "2026-03-02T07:00:00.001Z"},
    {"id": "C", "last_updated": "2026-03-02T08:59:59.999999Z"},
    {"id": "D", "last_updated": "2026-03-02T09:00:00+02:00"},  # 07:00 UTC, a partner's offset
    {"id": "E", "last_updated": "2026-03-02T07:30:00"},  # no zone designator: UTC
    {"id": "F", "last_updated": "not a date"},
    {"id": "G", "last_updated": 5},
    {"id": "H"},
]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"date_from": "2026-03-02T07:00:00Z"},
        {"date_from": "2026-03-02T07:00:00.001Z"},
        {"date_to": "2026-03-02T07:00:00.001Z"},
        {"date_from": "2026-03-02T07:00:00Z", "date_to": "2026-03-02T08:59:59.999999Z"},
        {"date_from": "2026-03-02T08:00:00+01:00", "date_to": "2026-03-02T09:00:00Z", "limit": "2"},
    ],
)
def test_the_stored_lists_filter_as_the_general_one_without_keeping_last_updated_texts(
    query: dict[str, str],
) -> None:
    general = paginate(DATED, "http://cpo.test/ocpi/2.2.1/sessions", query)
    for module in ("sessions", "locations"):  # packed, and kept as dicts
        published = Published()
        for obj in DATED:
            published.put(module, obj["id"], {**obj, "last_updated": "2020-01-01T00:00:00Z"})
            published.patch(module, obj["id"], {"last_updated": obj.get("last_updated")})
            if module == "sessions" and obj["id"] < "D":
                published.put(module, obj["id"], obj)  # published whole again: packed
        stored = published.page(module, "http://cpo.test/ocpi/2.2.1/sessions", query)
        assert [o["id"] for o in stored.items] == [o["id"] for o in general.items]
        assert stored.headers == general.headers
        for kept in published._objects[module].values():  # no text of ~72 bytes each
            assert isinstance(kept, bytes) or isinstance(kept.updated, int)


def test_a_packed_object_is_one_bytes_object_holding_its_own_instant() -> None:
    """Sessions and CDRs are kept all run long: each is a single bytes object (its last_updated and
    packer number in a 9-byte header), not an entry object holding them (~90 bytes more each)."""
    import gc

    published = Published()
    stamp = "2026-03-02T07:05:10.033Z"
    published.put("sessions", "S1", {"id": "S1", "last_updated": stamp})
    published.put("sessions", "S2", {"id": "S2", "last_updated": None})
    published.put("sessions", "S1", {"id": "S1", "status": "COMPLETED", "last_updated": stamp})  # reseeds
    published.put("cdrs", "S1-CDR", {"id": "S1-CDR", "last_updated": stamp})
    for module, key in (("sessions", "S1"), ("sessions", "S2"), ("cdrs", "S1-CDR")):
        stored = published._objects[module][key]
        assert type(stored) is bytes and not gc.get_referents(stored)
    assert published.get("sessions", "S2") == {"id": "S2", "last_updated": None}
    assert published.get("sessions", "S1") == {"id": "S1", "status": "COMPLETED", "last_updated": stamp}
    page = published.page("sessions", "http://cpo.test/sessions", {"date_from": stamp})
    assert [s["id"] for s in page.items] == ["S1"]


@pytest.mark.parametrize(
    ("appended", "expected"),
    [
        # delta CPO: the PATCH carries the periods ended since the last one; the listed copy adds them.
        (("charging_periods",), ["P1", "P2", "P3"]),
        # full_list CPO: every PATCH carries all periods so far; the listed copy takes them as sent.
        ((), ["P2", "P3"]),
    ],
)
def test_a_patch_adds_appended_list_fields_and_replaces_the_rest(
    appended: tuple[str, ...], expected: list[str]
) -> None:
    from simulators.cpo.sender import Published

    published = Published()
    published.put("sessions", "S1", {"id": "S1", "kwh": 1, "charging_periods": ["P1"]})
    published.patch("sessions", "S1", {"kwh": 2, "charging_periods": ["P2", "P3"]}, appended)
    assert published.get("sessions", "S1") == {"id": "S1", "kwh": 2, "charging_periods": expected}

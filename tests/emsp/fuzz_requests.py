"""Hypothesis strategies for hostile OCPI requests: valid objects mutated (wrong types, huge and odd
strings, boundary dates, deep nesting, nulls, missing and extra fields), random paths under /ocpi/,
methods and headers. Shared by the sans-IO and the HTTP fuzz tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from emsp_helpers import BASE, Client, V, auth, cdr, location, period, session, tariff
from hypothesis import strategies as st

from emsp.timeutil import format_utc
from emsp.wire import dumps

MAX_BODY = 64 * 1024  # the fuzzed core's body limit: huge strings cross it (HTTP 413)

BOUNDARY_DATES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999999Z",
    "9998-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2025-02-29T00:00:00Z",
    "2024-02-29T24:00:00Z",
    "2025-03-01T09:00:00+14:00",
    "2025-03-01T09:00:00-99:99",
    "2025-03-01 09:00:00",
    "2025-03-01T09:00Z",
    "20250301T090000Z",
    "2025-03-01T09:00:00.123456789012Z",
    "",
]
ODD_STRINGS = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u2028",
    "\u202e\u202d",
    "\ufeff",
    "\t\r\n",
    "🚗" * 20,
    "Zürich",
    "#NA",
    " ",
    "X" * 37,
    "X" * 40,
    "x" * 5_000,
    "x" * (MAX_BODY + 1),
    "%00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "NaN",
]


def _deep(levels: int, kind: str) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value] if kind == "list" else {"k": value}
    return value


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(ODD_STRINGS),
    st.sampled_from(BOUNDARY_DATES),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), _scalars, max_size=3),
    st.builds(_deep, st.integers(10, 80), st.sampled_from(["list", "dict"])),
)


def _seeds() -> dict[str, dict[str, Any]]:
    loc = location()
    return {
        "location": loc,
        "evse": loc["evses"][0],
        "connector": loc["evses"][0]["connectors"][0],
        "tariff": tariff(),
        "session": session(),
        "session_patch": {
            "kwh": Decimal("1.5"),
            "charging_periods": [period("2025-03-01T09:05:00Z", "1.5")],
            "last_updated": "2025-03-01T09:05:00Z",
        },
        "cdr": cdr(),
        "location_references": {"location_id": "LOC1", "evse_uids": ["EVSE1"]},
    }


SEEDS = _seeds()


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) pair of a JSON tree, in a stable order."""
    if isinstance(node, dict):
        for key in list(node):
            out.append((node, key))
            _slots(node[key], out)
    elif isinstance(node, list):
        for index in range(len(node)):
            out.append((node, index))
            _slots(node[index], out)
    return out


@st.composite
def mutated_body(draw: st.DrawFn, seed: str | None = None) -> Any:
    body = copy.deepcopy(SEEDS[seed if seed is not None else draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 3))):
        slots = _slots(body, [])
        if not slots:
            break
        parent, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(_values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "id", "last_updated", "\ud800", "", "\x00"]))] = draw(
                _values
            )
        else:
            parent.append(draw(_values))
    return body


@st.composite
def body_text(draw: st.DrawFn, seed: str | None = None) -> str | None:
    kind = draw(st.sampled_from(["json"] * 12 + ["none", "truncated", "junk", "top-level", "deep"]))
    if kind == "none":
        return None
    if kind == "junk":
        return draw(
            st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "{", "nul\x00", "[1,]", "NaN"]))
        )
    if kind == "top-level":
        return dumps(draw(_values))
    if kind == "deep":
        depth = draw(st.integers(30, 5_000))
        return "[" * depth + "]" * depth
    text = dumps(draw(mutated_body(seed)))
    if kind == "truncated":
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    return text


_ID = st.one_of(
    st.sampled_from(["S1", "LOC1", "TAR1", "CDR1", "EVSE1", "1", "RFID1", "X" * 37, "X" * 40]),
    st.sampled_from(["%00", "%F0%9F%9A%97", "%ZZ", "a%2Fb", "", "..", "%ED%A0%80"]),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"), max_size=8
    ),
)
_PARTY = st.sampled_from(
    [("DE", "CPA"), ("de", "cpa"), ("NL", "EMS"), ("FR", "XXX"), ("D", "CPAX"), ("%00", "A")]
)
_QUERY = st.sampled_from(
    ["", "?offset=-1", "?limit=0", "?limit=x", "?offset=1&limit=1", "?date_from=9999-12-31T23:59:59-01:00",
     "?date_from=nope", "?date_to=0001-01-01T00:00:00+01:00", "?type=RFID", "?type=NOPE", "?type=%00"]
)  # fmt: skip


@st.composite
def ocpi_path(draw: st.DrawFn) -> str:
    module = draw(st.sampled_from(["locations", "tariffs", "sessions", "cdrs", "tokens", "credentials", "x"]))
    shape = draw(st.sampled_from(["module", "party", "object", "sub", "subsub", "authorize", "top"]))
    cc, pid = draw(_PARTY)
    if shape == "top":
        return draw(
            st.sampled_from([f"{BASE}/versions", V, f"{BASE}/", f"{BASE}/2.1.1", f"{BASE}/versions/x"])
        )
    if shape == "module":
        return f"{V}/{module}"
    if shape == "authorize":
        return f"{V}/tokens/{draw(_ID)}/authorize"
    parts = [cc, pid] + [draw(_ID) for _ in range({"party": 0, "object": 1, "sub": 2, "subsub": 3}[shape])]
    return f"{V}/{module}/" + "/".join(parts)


# (method, path under /2.2.1, seed body): requests that are valid before mutation, so most of the
# storm reaches validation, storage and the bus instead of stopping at routing.
TARGETS = [
    ("PUT", "/locations/DE/CPA/LOC1", "location"),
    ("PATCH", "/locations/DE/CPA/LOC1", "session_patch"),
    ("PUT", "/locations/DE/CPA/LOC1/EVSE1", "evse"),
    ("PATCH", "/locations/DE/CPA/LOC1/EVSE1", "session_patch"),
    ("PUT", "/locations/DE/CPA/LOC1/EVSE1/1", "connector"),
    ("PATCH", "/locations/DE/CPA/LOC1/EVSE1/1", "session_patch"),
    ("GET", "/locations/DE/CPA/LOC1/EVSE1", None),
    ("PUT", "/tariffs/DE/CPA/TAR1", "tariff"),
    ("DELETE", "/tariffs/DE/CPA/TAR1", None),
    ("PUT", "/sessions/DE/CPA/S1", "session"),
    ("PATCH", "/sessions/DE/CPA/S1", "session_patch"),
    ("GET", "/sessions/DE/CPA/S1", None),
    ("POST", "/cdrs", "cdr"),
    ("GET", "/cdrs/DE/CPA/CDR1", None),
    ("POST", "/tokens/RFID1/authorize", "location_references"),
    ("GET", "/tokens", None),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "FOO", "get"]
FUZZ_TOKEN_C = "<token C>"  # replaced by the registered client's token
BAD_AUTHORIZATIONS = [
    None, "Token", "Token !!!", "Bearer x", auth("token-A-cpo1")["Authorization"],
    auth("nope")["Authorization"],
]  # fmt: skip


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None

    def with_token(self, token_c: str) -> FuzzRequest:
        headers = {
            k: (auth(token_c)["Authorization"] if v == FUZZ_TOKEN_C else v) for k, v in self.headers.items()
        }
        return FuzzRequest(self.method, self.url, headers, self.body)


_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@st.composite
def fuzz_request(draw: st.DrawFn, *, http: bool = False) -> FuzzRequest:
    seed: str | None = None
    if draw(st.integers(0, 9)) < 7:
        method, path, seed = draw(st.sampled_from(TARGETS))
        if draw(st.integers(0, 9)) == 0:
            method = draw(st.sampled_from(METHODS))
        url = f"{V}{path}" + draw(st.sampled_from(["", "", "", "/", "?type=RFID", "?limit=1"]))
    else:
        method = draw(st.sampled_from(METHODS))
        url = draw(ocpi_path()) + draw(_QUERY)
    authorization: str | None = FUZZ_TOKEN_C
    if draw(st.integers(0, 9)) == 0:
        authorization = draw(st.sampled_from(BAD_AUTHORIZATIONS))
    if "/credentials" in url and method.upper() != "GET" and authorization == FUZZ_TOKEN_C:
        authorization = None  # re-registering or unregistering would end the storm's own access
    headers: dict[str, str] = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    text = (
        _HEADER_TEXT
        if http
        else st.one_of(_HEADER_TEXT, st.text(max_size=20), st.sampled_from(ODD_STRINGS[:8]))
    )
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "X-Request-ID",
                    "X-Correlation-ID",
                    "OCPI-from-country-code",
                    "OCPI-from-party-id",
                    "Content-Type",
                ]
            ),
            max_size=3,
            unique=True,
        )
    ):
        headers[name] = draw(text)  # fmt: skip
    body = (
        None
        if seed is None and method in ("GET", "DELETE") and draw(st.booleans())
        else draw(body_text(seed))
    )
    return FuzzRequest(method, url, headers, body)


def assert_still_serves(cpo: Client) -> None:
    """After the storm: a valid session and CDR are stored, read back and invoiced."""
    later = format_utc(cpo.now + timedelta(hours=1))  # valid, ahead of what the storm sent
    resp = cpo.call("PUT", f"{V}/sessions/DE/CPA/AFTER-1", session("AFTER-1", last_updated=later))
    assert resp.status == 201 and resp.json()["status_code"] == 1000, resp.body
    resp = cpo.call("GET", f"{V}/sessions/DE/CPA/AFTER-1")
    assert resp.status == 200 and resp.json()["data"]["id"] == "AFTER-1"
    resp = cpo.call("POST", f"{V}/cdrs", cdr("AFTER-CDR", session_id="AFTER-1"))
    assert resp.status == 201, resp.body
    lines = [line for line in cpo.core.records().invoice_lines if line.cdr_id == "AFTER-CDR"]
    assert [(line.party.country_code, line.party.party_id) for line in lines] == [("DE", "CPA")]

"""Fuzz the sans-IO handler on SQLite and PostgreSQL: no 5xx, always the envelope, and a valid
request after the storm still works (a hostile partner cannot break the eMSP for anyone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from databases import BACKENDS, database_url
from emsp_helpers import T0, Client, FakePricer, register
from fuzz_requests import MAX_BODY, FuzzRequest, assert_still_serves, fuzz_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsp.core import EmspCore, EmspSettings
from emsp.wire import HttpRequest, HttpResponse

BATCH = 20
EXAMPLES = 250  # x BATCH = 5,000 requests per database


def check_envelope(resp: HttpResponse | Any, *, status: int, body: str | None, what: str) -> None:
    assert status < 500, f"{what} -> {status}: {body}"
    from emsp.wire import loads

    envelope = loads(body or "")
    assert isinstance(envelope, dict), what
    assert isinstance(envelope.get("status_code"), int), f"{what} -> {body}"
    assert isinstance(envelope.get("timestamp"), str), f"{what} -> {body}"


@pytest.fixture(params=BACKENDS)
def fuzzed(request: pytest.FixtureRequest) -> Iterator[Client]:
    with database_url(request.param) as url:
        core = EmspCore(EmspSettings(database_url=url, max_body_bytes=MAX_BODY), pricer=FakePricer())
        core.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=T0)
        yield register(core)
        core.db.engine.dispose()


@pytest.mark.slow
def test_a_request_storm_gets_no_5xx_and_always_the_envelope(fuzzed: Client) -> None:
    core: EmspCore = fuzzed.core
    sent: list[int] = []
    seen: list[tuple[int, int]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
        ],
    )  # fmt: skip
    @given(st.lists(fuzz_request(), min_size=BATCH, max_size=BATCH))
    def storm(batch: list[FuzzRequest]) -> None:
        for i, fuzz in enumerate(batch):
            req = fuzz.with_token(fuzzed.token)
            now = T0 + timedelta(seconds=len(sent) + i)
            resp = core.handle(HttpRequest(req.method, req.url, req.headers, req.body), now)
            check_envelope(resp, status=resp.status, body=resp.body, what=f"{req.method} {req.url}")
            seen.append((resp.status, resp.json()["status_code"]))
            request_id = resp.header("X-Request-ID") or ""
            assert request_id.isascii() and request_id.isprintable()
        sent.append(len(batch))

    storm()
    import collections
    import sys

    print(sorted(collections.Counter(seen).items()), file=sys.stderr)
    assert sum(sent) >= EXAMPLES * BATCH
    assert_still_serves(fuzzed)

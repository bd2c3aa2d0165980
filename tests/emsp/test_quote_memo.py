"""The driver's quote follows the location and tariff we hold now (memos keyed by their JSON)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from emsp_helpers import Client, V, location, tariff

from emsp.core import EmspCore
from emsp.services import quotes


def _quote(core: EmspCore, cpo: Client, location_id: str = "LOC1") -> Decimal | None:
    return core.quote(
        country_code="DE", party_id="CPA", location_id=location_id, evse_uid="EVSE1", connector_id="1",
        energy_kwh=Decimal(10), stay=timedelta(hours=1), now=cpo.now,
    )  # fmt: skip


def test_a_changed_location_or_tariff_changes_the_quote(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    assert _quote(core, cpo) == Decimal("3.00")
    dearer = tariff()
    dearer["elements"][0]["price_components"][0]["price"] = Decimal("0.50")
    dearer["last_updated"] = "2025-03-01T08:30:00Z"
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", dearer)
    assert _quote(core, cpo) == Decimal("5.00")
    moved = location()
    moved["evses"][0]["connectors"][0]["tariff_ids"] = ["TAR2"]  # a tariff we do not hold
    moved["last_updated"] = "2025-03-01T08:40:00Z"
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", moved)
    assert _quote(core, cpo) is None


def test_each_location_is_parsed_once_however_many_the_world_holds(
    core: EmspCore, cpo: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quote reads its connector's tariff ids from an index built once per location text: with
    more locations than a memo keyed by the text held (64), quoting them in turn parsed a location
    for every quote (a quote's cost grew with the world)."""
    sites = [f"LOC{n}" for n in range(100)]
    for site in sites:
        cpo.call("PUT", f"{V}/locations/DE/CPA/{site}", location(site))
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    parsed: list[str] = []
    real = quotes.loads

    def counting(text: str) -> object:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(quotes, "loads", counting)
    for _round in range(2):
        assert {_quote(core, cpo, site) for site in sites} == {Decimal("3.00")}
    locations_parsed = [text for text in parsed if '"evses"' in text]
    assert len(locations_parsed) <= len(sites)  # once each at most (another test may have left some)
    moved = location("LOC7")
    moved["evses"][0]["connectors"][0]["tariff_ids"] = ["TAR2"]  # a tariff we do not hold
    moved["last_updated"] = "2025-03-01T08:40:00Z"
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC7", moved)
    assert _quote(core, cpo, "LOC7") is None  # its changed text is another index
    assert _quote(core, cpo, "LOC8") == Decimal("3.00")


@pytest.mark.parametrize(
    ("location_id", "evse_uid", "connector_id"),
    [("LOC1", "EVSE1", "1"), ("LOC1", "EVSE1", "9"), ("LOC1", "NOPE", "1"), ("NOWHERE", "EVSE1", "1")],
)
def test_a_quote_reads_what_a_plain_session_reads(
    core: EmspCore, cpo: Client, location_id: str, evse_uid: str, connector_id: str
) -> None:
    """EmspCore.quote reads through Database.reading() (on in-memory SQLite the kept scope's
    session, no ORM transaction): the same answer as the plain session it used before, inside a
    request's scope too, and no transaction is left open."""
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    asked = {
        "country_code": "DE", "party_id": "CPA", "location_id": location_id, "evse_uid": evse_uid,
        "connector_id": connector_id, "energy_kwh": Decimal(10), "stay": timedelta(hours=1), "now": cpo.now,
    }  # fmt: skip
    with core.db.session_factory() as db:
        plain = quotes.quote_visit(db, **asked)  # type: ignore[arg-type]
    assert core.quote(**asked) == plain  # type: ignore[arg-type]
    with core.db.scope():
        assert core.quote(**asked) == plain  # type: ignore[arg-type]
    with core.db.reading() as db:
        assert db.get_transaction() is None  # in-memory SQLite: the kept session, no ORM transaction
    with core.db.engine.connect() as connection:
        assert not connection.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]

"""The token index keeps one state per driver: what it holds reads as the row says, and the few-valued
columns are one shared string each, not a copy per token read (emsp.services.tokens)."""

from __future__ import annotations

import pytest
from emsp_helpers import T0

from emsp.core import EmspCore, EmspSettings

TOKENS = [  # uid, type, whitelist, issuer, partner
    ("RFID1", "RFID", "ALLOWED", "Our eMSP", None),
    ("RFID2", "RFID", "ALLOWED", "Our eMSP", None),
    ("APP1", "APP_USER", "NEVER", "Fleet Co", "cpo-a"),
    ("APP2", "APP_USER", "NEVER", "Fleet Co", "cpo-a"),
]


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings(database_url="sqlite://"))
    for uid, kind, whitelist, issuer, partner in TOKENS:
        core.issue_token(uid, contract_id=f"C-{uid}", type=kind, whitelist=whitelist, issuer=issuer, now=T0)
        if partner is not None:
            core.tokens.invalidate()
            with core.db.unit() as session:
                session.connection().exec_driver_sql(
                    "update tokens set partner = ? where uid = ?", (partner, uid)
                )
    return core


def test_cached_token_states_read_as_stored_and_share_their_few_valued_strings(core: EmspCore) -> None:
    with core.db.unit() as session:
        states = {uid: core.tokens.lookup(session, uid, kind) for uid, kind, *_ in TOKENS}
    for uid, kind, whitelist, issuer, partner in TOKENS:
        state = states[uid]
        assert state is not None
        assert (state.uid, state.type, state.whitelist, state.issuer) == (uid, kind, whitelist, issuer)
        assert state.contract_id == f"C-{uid}" and state.partner == partner
    for first, second in (("RFID1", "RFID2"), ("APP1", "APP2")):
        a, b = states[first], states[second]
        assert a is not None and b is not None
        assert a.type is b.type and a.whitelist is b.whitelist and a.issuer is b.issuer
        assert a.partner is b.partner


def test_the_index_keys_share_the_cached_states_texts_and_still_find_any_case(core: EmspCore) -> None:
    """A cached token's key is (its uid, its type) as the state holds them, not copies: the uid read
    from the row (issued as its key) and the interned type, whatever strings the caller passed."""
    core.issue_token("lower1", contract_id="C-lower1", type="RFID", whitelist="ALLOWED", now=T0)
    with core.db.unit() as session:
        for uid, kind, *_ in [*TOKENS, ("lower1", "RFID")]:
            asked_uid, asked_type = "".join(list(uid.lower())), "".join(list(kind))  # fresh strings
            state = core.tokens.lookup(session, asked_uid, asked_type)
            assert state is not None and state.uid == uid
            key = next(k for k, v in core.tokens._index.items() if v is state)
            assert key[1] is state.type
            assert (key[0] is state.uid) == (uid == uid.upper())
            assert key[0] == uid.upper()
            assert core.tokens.lookup(session, uid, kind) is state  # found again in the index


def test_tokens_updated_at_one_instant_share_one_datetime(core: EmspCore) -> None:
    """Tokens issued in one batch (all at T0 here) keep one last_updated datetime between their
    cached states, not a 48-byte copy each read from its row; a later instant is its own."""
    from datetime import timedelta

    core.issue_token("LATER1", contract_id="C-LATER1", type="RFID", now=T0 + timedelta(seconds=1))
    with core.db.unit() as session:
        states = [core.tokens.lookup(session, uid, kind) for uid, kind, *_ in [*TOKENS, ("LATER1", "RFID")]]
    stamps = [state.last_updated for state in states if state is not None]
    assert stamps == [T0] * 4 + [T0 + timedelta(seconds=1)]
    assert all(stamp is stamps[0] for stamp in stamps[:4])

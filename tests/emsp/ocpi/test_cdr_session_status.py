"""A CDR's check of its session (session_left_pending) reads the same status whether the session
is remembered (in progress, answered from memory) or read from the table (its status column), as
on a file database or once the session has ended and is forgotten."""

from __future__ import annotations

import pytest
from emsp_helpers import Client, V, cdr, session

from emsp.core import EmspCore


def _kinds(core: EmspCore) -> set[str]:
    return {f.kind for f in core.records().findings}


@pytest.mark.parametrize("remembered", [True, False], ids=["memory", "table"])
@pytest.mark.parametrize(("status", "noticed"), [("PENDING", True), ("ACTIVE", False), ("COMPLETED", False)])
def test_a_cdr_for_a_session_left_pending_is_noticed_from_memory_and_from_the_table(
    core: EmspCore, cpo: Client, remembered: bool, status: str, noticed: bool
) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status=status))
    if not remembered:
        core.db.stored_sessions = None  # every read goes to the table
    assert cpo.call("POST", f"{V}/cdrs", cdr(session_id="s1")).status == 201  # the id in any case
    assert ("session_left_pending" in _kinds(core)) is noticed


def test_a_cdr_for_an_unknown_session_notices_nothing_of_it(core: EmspCore, cpo: Client) -> None:
    assert cpo.call("POST", f"{V}/cdrs", cdr(session_id="NO-SUCH")).status == 201
    assert "session_left_pending" not in _kinds(core)

"""Hub-scoped ids: an aggregating hub shows Sessions and CDRs under ids of its own.

The first time the hub forwards a CPO's Session (or CDR) it gives it the next id from a counter;
the same object (owner party, kind, original id) keeps that id for good, and the hub can map it
back (a STOP_SESSION naming the hub's id reaches the CPO with the CPO's). A CDR's `session_id`
uses the Session mapping, so CDR and Session still match at the eMSP.
"""

from __future__ import annotations

from collections.abc import Callable

from simulators.hub.envelope import Party

KIND_PREFIX = {"session": "S", "cdr": "C"}


class IdRewriter:
    def __init__(self, prefix: str, on_new: Callable[[str, Party, str, str], None] | None = None) -> None:
        self._prefix = prefix
        self._on_new = on_new
        self._outward: dict[tuple[str, Party, str], str] = {}
        self._inward: dict[tuple[str, str], tuple[Party, str]] = {}
        self._counters = dict.fromkeys(KIND_PREFIX, 0)

    def outward(self, kind: str, owner: Party, original: str) -> str:
        key = (kind, owner, original)
        known = self._outward.get(key)
        if known is not None:
            return known
        self._counters[kind] += 1
        hub_id = f"{self._prefix}{KIND_PREFIX[kind]}{self._counters[kind]:06d}"
        self._outward[key] = hub_id
        self._inward[(kind, hub_id)] = (owner, original)
        if self._on_new is not None:
            self._on_new(kind, owner, original, hub_id)
        return hub_id

    def inward(self, kind: str, hub_id: str) -> tuple[Party, str] | None:
        return self._inward.get((kind, hub_id))

    def mapping(self) -> list[tuple[str, Party, str, str]]:
        """(kind, owner, original id, hub id) in the order the hub gave them out (for the hub's truth)."""
        return [(kind, owner, original, hub_id) for (kind, owner, original), hub_id in self._outward.items()]

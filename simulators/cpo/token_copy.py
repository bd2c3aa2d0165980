"""The mock CPO's copy of the eMSP's Tokens (its pushes and its Tokens list), for offline and
whitelisted authorization: found by uid in any case, as the eMSP finds its own (Token.uid is a
CiString), and kept as the eMSP sent it (its uid as issued)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from emsp.wire import ci_key as uid_key  # Token.uid is a CiString: compared as every party does


class TokenCopy:
    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}

    def get(self, uid: str) -> dict[str, Any] | None:
        return self._by_key.get(uid_key(uid))

    def put(self, token: dict[str, Any]) -> None:
        """The Token whole (PUT, a Tokens list page): replaces the one of that uid in any case."""
        self._by_key[uid_key(str(token["uid"]))] = token

    def patch(self, uid: str, fields: dict[str, Any]) -> bool:
        """Merge a PATCH into the Token of that uid in any case; False: no such Token."""
        key = uid_key(uid)
        token = self._by_key.get(key)
        if token is None:
            return False
        self._by_key[key] = token | fields
        return True

    def by_uid(self) -> dict[str, dict[str, Any]]:
        """Every Token by its uid as the eMSP issued it."""
        return {str(token["uid"]): token for token in self._by_key.values()}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._by_key.values())

"""The mock CPO's copy of the eMSP's Tokens (its pushes and its Tokens list), for offline and
whitelisted authorization: found by uid in any case, as the eMSP finds its own (Token.uid is a
CiString), and kept as the eMSP sent it (its uid as issued).

A CPO holds one Token per driver all run long and reads one or two per charging session: each is
kept packed (simulators/cpo/packing.py, against the first Token: they share most of their text),
~0.1 KiB where its dict of texts was ~0.3 KiB, and read back as the same dict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from emsp.wire import ci_key as uid_key  # Token.uid is a CiString: compared as every party does
from simulators.cpo.packing import Packer


class TokenCopy:
    def __init__(self) -> None:
        self._by_key: dict[str, bytes] = {}
        self._packer: Packer | None = None

    def get(self, uid: str) -> dict[str, Any] | None:
        packed = self._by_key.get(uid_key(uid))
        return None if packed is None else self._unpack(packed)

    def put(self, token: dict[str, Any], text: str | None = None) -> None:
        """The Token whole (PUT, a Tokens list page): replaces the one of that uid in any case.
        `text`: JSON that reads as `token` (the request's body), when the caller has it."""
        self._by_key[uid_key(str(token["uid"]))] = self._pack(token, text)

    def patch(self, uid: str, fields: dict[str, Any]) -> bool:
        """Merge a PATCH into the Token of that uid in any case; False: no such Token."""
        key = uid_key(uid)
        packed = self._by_key.get(key)
        if packed is None:
            return False
        token = self._unpack(packed)
        token.update(fields)
        self._by_key[key] = self._pack(token, None)
        return True

    def by_uid(self) -> dict[str, dict[str, Any]]:
        """Every Token by its uid as the eMSP issued it."""
        return {str(token["uid"]): token for token in self}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._unpack(packed) for packed in list(self._by_key.values()))

    def _pack(self, token: dict[str, Any], text: str | None) -> bytes:
        if self._packer is None:
            self._packer = Packer(token)
        return self._packer.pack(token, text)

    def _unpack(self, packed: bytes) -> dict[str, Any]:
        assert self._packer is not None  # it packed what is kept
        return self._packer.unpack(packed)

"""A CPO's end-of-day CDR batch (the timeline's `cdr_hold`): which CDRs wait, and which go out when.

While holding, every CDR the CPO would POST waits, in order. The release draws for each a `late`
share held back; the rest is the batch, sent at once, and a `duplicate` share of the batch twice (a
batch job re-run: a late CDR was not in it). A later release (the late ones' turn) sends what is
left, once, without further draws.
"""

from __future__ import annotations

import random
from typing import Any

Held = tuple[dict[str, Any], str]  # (CDR object, correlation id)


class CdrBatch:
    def __init__(self, *, resent: list[str], late: list[str]) -> None:
        """`resent` and `late` collect the ids of the CDRs released twice and held back (the truth)."""
        self.holding = False
        self._held: list[Held] = []
        self._late: list[Held] = []
        self._resent_ids, self._late_ids = resent, late

    def hold(self) -> None:
        self.holding = True

    def keep(self, cdr: dict[str, Any], correlation: str) -> bool:
        """Keep a CDR for the batch if holding (True); False: send it now."""
        if self.holding:
            self._held.append((cdr, correlation))
        return self.holding

    def release(
        self, *, duplicate: float = 0.0, late: float = 0.0, rng: random.Random | None = None
    ) -> list[Held]:
        """What to POST now, in order (a duplicated CDR appears twice, one after the other)."""
        if not self.holding:
            batch, self._late = self._late, []
            return batch
        self.holding = False
        batch, self._held = self._held, []
        out: list[Held] = []
        for item in batch:
            if rng is not None and late and rng.random() < late:
                self._late.append(item)
                self._late_ids.append(item[0]["id"])
                continue
            copies = 2 if rng is not None and duplicate and rng.random() < duplicate else 1
            if copies == 2:
                self._resent_ids.append(item[0]["id"])
            out.extend([item] * copies)
        return out

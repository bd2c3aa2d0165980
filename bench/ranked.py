"""A set of the integers 0..size-1 that finds its k-th member in O(log size) (a Fenwick tree).

Demand uses it to pick the k-th free driver and the allocator the k-th open station, so neither
builds a list of every candidate per visit (which made planning quadratic in a large world).
"""

from __future__ import annotations


class RankedSet:
    """The integers 0..size-1 in or out, with the k-th member (by value) in O(log size): a Fenwick tree."""

    def __init__(self, size: int, *, full: bool) -> None:
        self._tree = [0] * (size + 1)
        self._member = [False] * size
        self.count = 0
        self._top = 1 << max(size.bit_length() - 1, 0)
        if full:
            for index in range(size):
                self.add(index)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self._member[index]

    def _update(self, index: int, delta: int) -> None:
        i = index + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def add(self, index: int) -> None:
        if not self._member[index]:
            self._member[index] = True
            self.count += 1
            self._update(index, 1)

    def discard(self, index: int) -> None:
        if self._member[index]:
            self._member[index] = False
            self.count -= 1
            self._update(index, -1)

    def kth(self, k: int) -> int:
        """The member with exactly k members below it (0 <= k < count)."""
        pos, step = 0, self._top
        while step:
            nxt = pos + step
            if nxt < len(self._tree) and self._tree[nxt] <= k:
                pos = nxt
                k -= self._tree[nxt]
            step >>= 1
        return pos

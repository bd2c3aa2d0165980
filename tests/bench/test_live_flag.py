"""The live runtime's light per-station flag behaves as asyncio.Event where the runtime uses it."""

from __future__ import annotations

import asyncio

import pytest

from bench.runtime.live_flag import Flag


@pytest.mark.parametrize("make", [Flag, asyncio.Event], ids=["Flag", "asyncio.Event"])
def test_set_wakes_every_waiter_a_timeout_leaves_none_behind_and_clear_rearms(make: type) -> None:
    async def scenario() -> list[object]:
        flag = make()
        woken: list[int] = []

        async def waiter(n: int) -> None:
            await flag.wait()
            woken.append(n)

        tasks = [asyncio.ensure_future(waiter(n)) for n in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(flag.wait(), 0.01)  # gives up: its waiter is dropped
        before = flag.is_set()
        flag.set()
        await asyncio.gather(*tasks)
        await flag.wait()  # set: returns at once
        flag.clear()
        late = asyncio.ensure_future(flag.wait())
        await asyncio.sleep(0.01)
        pending = not late.done()
        flag.set()
        await late
        return [before, sorted(woken), pending, flag.is_set()]

    assert asyncio.run(scenario()) == [False, [0, 1, 2], True, True]


def test_a_flag_holds_no_waiter_list_when_nobody_waits() -> None:
    async def scenario() -> object:
        flag = Flag()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(flag.wait(), 0.01)
        return flag._waiters

    assert asyncio.run(scenario()) is None

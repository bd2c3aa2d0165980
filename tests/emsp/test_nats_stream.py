"""The event stream on the local NATS JetStream (skipped when 127.0.0.1:4222 is unreachable)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import pytest
from emsp_helpers import Client, V, cdr, location, session, tariff
from sqlalchemy import update

from emsp.core import EmspCore
from emsp.nats_stream import JetStreamPublisher, subject
from emsp.storage.tables import OutboxRow

NATS_URL = "nats://127.0.0.1:4222"


def _reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _reachable(), reason="no NATS server on 127.0.0.1:4222")


async def _stream_messages(stream: str) -> list[Any]:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        return [await js.get_msg(stream, seq) for seq in range(1, info.state.messages + 1)]
    finally:
        await nc.drain()


async def _delete(stream: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.drain()


def test_every_event_reaches_jetstream_once(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status="COMPLETED"))
    cpo.call("POST", f"{V}/cdrs", cdr())
    expected = core.events_after(0, 100)
    tag = uuid.uuid4().hex[:12]
    stream, prefix = f"TEST_{tag}", f"test.{tag}"
    publisher = JetStreamPublisher(NATS_URL, stream=stream, prefix=prefix)

    async def scenario() -> list[Any]:
        try:
            assert await publisher.publish_pending(core.bus, 100) == len(expected)
            assert await publisher.publish_pending(core.bus, 100) == 0  # all marked published
            with core.db.unit() as db:  # as if a crash hit before the rows were marked
                db.execute(update(OutboxRow).values(published=False))
            assert await publisher.publish_pending(core.bus, 100) == len(expected)
            return await _stream_messages(stream)
        finally:
            await publisher.close()
            await _delete(stream)

    messages = asyncio.run(scenario())
    assert len(messages) == len(expected)  # the resend was de-duplicated by message id
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [e.idempotency_key for e in expected]
    assert [m.subject for m in messages] == [subject(prefix, e) for e in expected]
    assert messages[-1].subject == f"{prefix}.cdr.settled.cpo1"
    assert b'"kind":"cdr.settled"' in messages[-1].data


def test_nats_down_keeps_rows_unpublished(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    publisher = JetStreamPublisher("nats://127.0.0.1:1", timeout=0.3)  # nothing listens there

    async def scenario() -> None:
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises when it cannot connect
            await publisher.publish_pending(core.bus, 100)

    asyncio.run(scenario())
    assert [e.seq for e in core.bus.unpublished(100)] == [e.seq for e in core.events_after(0, 100)]

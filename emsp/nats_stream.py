"""The event stream on NATS JetStream (`serve emsp --bus nats://...`), fed from the outbox.

Every outbox row is published once acknowledged by JetStream: subject `<prefix>.<kind>.<partner>`,
message id = the event's idempotency key, so a row sent twice (a crash before it was marked, two
processes) is dropped by JetStream's de-duplication. Rows stay unpublished while NATS is down.
Needs the optional `nats` extra (`pip install emsp-bench[nats]`).
"""

from __future__ import annotations

import re
from typing import Any

from emsp.contract.events import to_contract
from emsp.outbox import Outbox, StoredEvent

DEFAULT_STREAM = "EMSP_EVENTS"
DEFAULT_PREFIX = "emsp.events"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject(prefix: str, event: StoredEvent) -> str:
    """One subject token per kind part and the partner (NATS tokens: no dots, spaces or wildcards)."""
    return f"{prefix}.{event.kind}.{_UNSAFE.sub('_', event.partner) or '_'}"


class JetStreamPublisher:
    def __init__(
        self, url: str, *, stream: str = DEFAULT_STREAM, prefix: str = DEFAULT_PREFIX, timeout: float = 2.0
    ) -> None:
        self.url = url
        self.stream = stream
        self.prefix = prefix
        self.timeout = timeout
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        import nats  # optional dependency: imported only when a bus URL is configured
        from nats.js.errors import NotFoundError

        # A bounded number of reconnects: a closed client is replaced on the next round instead.
        self._nc = await nats.connect(
            self.url, connect_timeout=self.timeout, reconnect_time_wait=0.5, max_reconnect_attempts=3
        )
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])

    async def publish_pending(self, outbox: Outbox, limit: int) -> int:
        import asyncio

        if self._nc is None or self._nc.is_closed:
            await self.connect()  # unreachable at start-up or gone since: try again each round
        rows = await asyncio.to_thread(outbox.unpublished, limit)
        sent: list[int] = []
        try:
            for event in rows:  # in order; the first failure stops the round (retried next round)
                body = to_contract(event).model_dump_json().encode()
                headers = {"Nats-Msg-Id": event.idempotency_key}
                await self._js.publish(subject(self.prefix, event), body, headers=headers)
                sent.append(event.seq)
        finally:
            await asyncio.to_thread(outbox.mark_published, sent)
        return len(sent)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = self._js = None

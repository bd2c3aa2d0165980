"""Socket options of the live runtime: small OCPI/OCPP messages must not wait for Nagle."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bench.runtime.live_run import _bound_socket
from bench.scenario import ScenarioError


def test_connections_accepted_on_a_live_listener_have_tcp_nodelay() -> None:
    async def scenario() -> tuple[int, int]:
        listener = _bound_socket()
        listener.listen()
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        server_side = await asyncio.wait_for(accepted, 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return server_side, client

    server_side, client = asyncio.run(scenario())
    assert server_side != 0
    assert client != 0


def test_a_fixed_port_another_run_has_bound_is_invalid_input() -> None:
    """Two live runs on one fixed port (G7): the second must get exit 2 naming the field, even when
    the first has bound its socket but its server has not started yet (SO_REUSEADDR lets Linux bind
    one port twice while neither socket listens)."""
    first = _bound_socket()
    port = first.getsockname()[1]
    try:
        with pytest.raises(ScenarioError) as raised:
            _bound_socket("127.0.0.1", port, ("scenario.yaml", "ports.cpos.cpo-a.csms"))
    finally:
        first.close()
    assert raised.value.field == "ports.cpos.cpo-a.csms"
    assert f"cannot listen on 127.0.0.1:{port}" in raised.value.reason

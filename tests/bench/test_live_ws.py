"""The live runtime's bare WebSocket ends (bench/runtime/live_ws.py) against websockets' own asyncio
client and server: what a real charger or CSMS library sends must pass, and the limits hold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from bench.runtime.live_run import _bound_socket
from bench.runtime.live_ws import MAX_MESSAGE, ServerEnd, connect_ws, serve_ws

OCPP16 = [Subprotocol("ocpp1.6")]


async def _echo_server(
    check: Any = None,
) -> tuple[Any, str, list[ServerEnd]]:
    """One of our servers that echoes every message back; its URL; the ends it accepted."""
    accepted: list[ServerEnd] = []

    def on_open(end: ServerEnd, request: Request) -> None:
        accepted.append(end)
        end.on_text = lambda text: asyncio.ensure_future(end.send(text))

    sock = _bound_socket()
    server = await serve_ws(sock, OCPP16, on_open, check=check)
    return server, f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp/CS-1", accepted


def test_a_library_client_talks_to_our_server_fragments_binary_and_pings_included() -> None:
    async def scenario() -> list[Any]:
        server, url, accepted = await _echo_server()
        async with connect(url, subprotocols=OCPP16) as ws:
            assert ws.subprotocol == "ocpp1.6"
            await ws.send('[2,"1","Heartbeat",{}]')
            plain = await ws.recv()
            await ws.send(["[2,", '"2","Heart', 'beat",{}]'])  # one message in three frames
            fragmented = await ws.recv()
            await ws.send(b'[2,"3","Heartbeat",{}]')  # binary: read as UTF-8 text
            binary = await ws.recv()
            latency = await (await ws.ping())  # answered by the protocol itself
            big = "x" * (MAX_MESSAGE - 64)
            await ws.send(big)
            echoed_big = await ws.recv()
        await asyncio.sleep(0.05)
        left = len(server.ends)
        await server.close()
        return [plain, fragmented, binary, latency >= 0, echoed_big == big, len(accepted), left]

    plain, fragmented, binary, ponged, big, accepted, left = asyncio.run(scenario())
    assert plain == '[2,"1","Heartbeat",{}]'
    assert fragmented == '[2,"2","Heartbeat",{}]'
    assert binary == '[2,"3","Heartbeat",{}]'
    assert ponged and big
    assert (accepted, left) == (1, 0)  # the closed connection is forgotten by its server


def test_a_message_over_the_limit_closes_the_connection_with_1009() -> None:
    async def scenario() -> int | None:
        server, url, _ = await _echo_server()
        try:
            async with connect(url, subprotocols=OCPP16, max_size=None) as ws:
                await ws.send("x" * (MAX_MESSAGE + 1))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                return closed.value.rcvd.code if closed.value.rcvd else None
        finally:
            await server.close()

    assert asyncio.run(scenario()) == 1009


def test_invalid_utf8_in_a_text_message_closes_the_connection_with_1007() -> None:
    async def scenario() -> int | None:
        server, url, _ = await _echo_server()
        try:
            async with connect(url, subprotocols=OCPP16) as ws:
                ws.protocol.send_text(b"\xff\xfe")  # websockets' own send() would refuse it
                ws.send_data()
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                return closed.value.rcvd.code if closed.value.rcvd else None
        finally:
            await server.close()

    assert asyncio.run(scenario()) == 1007


def test_a_check_refuses_the_handshake_with_its_http_status() -> None:
    def refuse(end: ServerEnd, request: Request) -> Response | None:
        return end.respond(401, "no Basic auth credentials\n")

    async def scenario() -> int:
        server, url, accepted = await _echo_server(refuse)
        try:
            with pytest.raises(InvalidStatus) as refused:
                await connect_ws(url, "ocpp1.6", print, timeout=5)
            assert not accepted
            return refused.value.response.status_code
        finally:
            await server.close()

    assert asyncio.run(scenario()) == 401


def test_our_client_talks_to_a_library_server_and_closes_cleanly() -> None:
    async def scenario() -> tuple[list[str], str | None]:
        async def handler(ws: ServerConnection) -> None:
            async for message in ws:
                await ws.send(["<", str(message), ">"])  # fragmented on the way back

        received: list[str] = []
        sock = _bound_socket()
        async with serve(handler, sock=sock, subprotocols=OCPP16):
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp/CS-1"
            end = await connect_ws(url, "ocpp1.6", received.append, timeout=5)
            chosen = end.protocol.subprotocol
            await end.send("hello")
            await end.send("world")
            for _ in range(100):
                if len(received) == 2:
                    break
                await asyncio.sleep(0.01)
            await asyncio.wait_for(end.close(), 5)
            await end.send("after close: dropped")
        return received, chosen

    received, chosen = asyncio.run(scenario())
    assert received == ["<hello>", "<world>"]
    assert chosen == "ocpp1.6"

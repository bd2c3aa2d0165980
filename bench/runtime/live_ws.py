"""OCPP-J WebSocket ends of the `live` runtime: websockets' sans-IO protocol on a bare asyncio Protocol.

websockets' asyncio connection costs several times what this one does per connection with both ends in
one process (a reader task per end and a handler task, an Assembler with its queues, futures, a logger
adapter, the handshake kept; `python -m bench.perf.live` prints both, "library defaults" and "live
runtime", measured in the same run): too much for thousands of stations in one process. Here the
opening handshake, the framing and their checks stay websockets' own (sans-IO `ClientProtocol` /
`ServerProtocol`, the same classes its asyncio layer drives); this module is only the plumbing: bytes
from the socket into the protocol, each complete message out to a callback, frames written straight to
the transport. No task and no queue per connection: the event loop's reader callback drives it.

Messages up to MAX_MESSAGE pass (websockets' default, 1 MiB): far above what OCPP sends (a few KiB;
a GetReport or a firmware URL is still small), and it costs nothing until a message that big arrives,
since the protocol's buffer grows only with what it holds.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Mapping

from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import OPEN, Protocol
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

MAX_MESSAGE = 2**20
CLOSE_TIMEOUT_S = 10.0  # a peer that never completes the closing handshake is dropped after this

OnText = Callable[[str], None]


def _nothing() -> None:
    return None


class WsEnd(asyncio.Protocol):
    """One end of a WebSocket. `on_text` gets every complete message (binary ones decoded with
    replacement, as the runtime always did); `on_close` is called once, when the TCP connection is gone."""

    __slots__ = (
        "_close_timer", "_drained", "_fragments", "_lost", "on_close", "on_text", "protocol", "transport",
    )  # fmt: skip

    def __init__(self, protocol: Protocol, on_text: OnText) -> None:
        self.protocol = protocol
        self.on_text = on_text
        self.on_close: Callable[[], None] = _nothing
        self.transport: asyncio.Transport | None = None
        self._fragments: list[Frame] | None = None  # a fragmented message being received
        self._drained: asyncio.Future[None] | None = None  # only while the socket's buffer is full
        self._lost: asyncio.Future[None] | None = None  # only while someone waits for the close
        self._close_timer: asyncio.TimerHandle | None = None

    @property
    def open(self) -> bool:
        return self.protocol.state is OPEN

    # ------------------------------------------------------------ sending
    def send_now(self, text: str) -> None:
        """Send a text message; on a connection no longer open it is dropped (the peer left: what it
        misses is its loss)."""
        if self.open:
            self.protocol.send_text(text.encode())
            self._flush()

    async def send(self, text: str) -> None:
        """send_now, then wait while the socket's write buffer is over its high-water mark."""
        self.send_now(text)
        if self._drained is not None:
            await asyncio.shield(self._drained)

    def start_close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Begin the closing handshake; the TCP connection closes once the peer answers (or is
        dropped after CLOSE_TIMEOUT_S)."""
        if self.transport is not None and self.open:
            self.protocol.send_close(code, reason)
            self._flush()

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """The closing handshake, until the TCP connection is closed."""
        if self.transport is None:
            return
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        self.start_close(code, reason)
        await asyncio.shield(self._lost)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():  # websockets' SEND_EOF: half-close
                transport.write_eof()
            else:  # TLS cannot half-close
                transport.close()
        if self.protocol.close_expected() and self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, transport.abort)

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            else:
                self._handshake(event)
        self._flush()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self._flush()
        # None: the transport closes itself.

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()  # idempotent: the protocol's state becomes CLOSED
        if self._close_timer is not None:
            self._close_timer.cancel()
        for waiter in (self._drained, self._lost):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        self._drained = None
        self.transport = None
        on_close, self.on_close = self.on_close, _nothing
        on_close()

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # ------------------------------------------------------------ receiving
    def _frame(self, frame: Frame) -> None:
        # Control frames (ping, pong, close) are the protocol's business: it answers them itself.
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return
        if not frame.fin:
            self._fragments = [*(self._fragments or []), frame]
            return
        first, data = frame, bytes(frame.data)  # bytes already (a copy only of a memoryview)
        if self._fragments is not None:  # the protocol checked the sequence and the total size
            first, data = self._fragments[0], b"".join([*(f.data for f in self._fragments), frame.data])
            self._fragments = None
        # The protocol's parser keeps the last frame it read (a local of its generator) until the
        # next one comes: without its payload, read once, a quiet connection holds no message.
        frame.data = b""
        if first.opcode is Opcode.BINARY:
            self.on_text(data.decode("utf-8", "replace"))
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:  # as websockets' asyncio layer: invalid UTF-8 in a text message
            self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
            return
        self.on_text(text)

    def _handshake(self, message: Request | Response) -> None:
        raise NotImplementedError


class ClientEnd(WsEnd):
    __slots__ = ("_opened",)

    def __init__(self, protocol: ClientProtocol, on_text: OnText, headers: Mapping[str, str]) -> None:
        super().__init__(protocol, on_text)
        request = protocol.connect()
        request.headers.update(headers)
        protocol.send_request(request)  # written once the TCP connection is made
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _handshake(self, message: Request | Response) -> None:
        if self._opened.done():
            return
        exc = self.protocol.handshake_exc  # e.g. InvalidStatus: the server answered 401
        if exc is None:
            _forget(message)
            self._opened.set_result(None)
        else:
            self._opened.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(exc or ConnectionResetError("connection closed during the handshake"))
        super().connection_lost(exc)


async def connect_ws(
    uri: str,
    subprotocol: str,
    on_text: OnText,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> ClientEnd:
    """Open a WebSocket to `uri` offering `subprotocol`; raises OSError, TimeoutError or websockets'
    InvalidHandshake (InvalidStatus when the server refused with an HTTP status) as websockets'
    own `connect` does. `on_text` may be called as soon as the handshake is through."""
    target = parse_uri(uri)
    protocol = ClientProtocol(target, subprotocols=[Subprotocol(subprotocol)], max_size=MAX_MESSAGE)
    end = ClientEnd(protocol, on_text, headers or {})
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: end, target.host, target.port, ssl=tls)
            await end._opened
    except BaseException:
        end._opened.cancel()  # gave up: nobody will read how the handshake ends
        end.abort()
        raise
    return end


class ServerEnd(WsEnd):
    """`accepted(end, request)` is called once the handshake is answered 101; `check(end, request)`
    may refuse it first with a response (an HTTP error: the connection then closes)."""

    __slots__ = ("_accepted", "_check", "_served")

    def __init__(
        self,
        protocol: ServerProtocol,
        accepted: Callable[[ServerEnd, Request], None],
        check: Callable[[ServerEnd, Request], Response | None] | None,
        served: set[ServerEnd],
    ) -> None:
        super().__init__(protocol, _ignore_text)
        self._accepted: Callable[[ServerEnd, Request], None] | None = accepted
        self._check = check
        self._served = served
        served.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._served.discard(self)
        super().connection_lost(exc)

    def _handshake(self, message: Request | Response) -> None:
        assert isinstance(message, Request) and isinstance(self.protocol, ServerProtocol)
        accepted, self._accepted, check, self._check = self._accepted, None, self._check, None
        if accepted is None:
            return
        response = check(self, message) if check is not None else None
        self.protocol.send_response(response or self.protocol.accept(message))
        self._flush()  # the 101 goes out before anything the accepting side sends
        if self.open:
            accepted(self, message)
        _forget(message)

    def respond(self, status: int, text: str) -> Response:
        """A refusal for `check` to return: an HTTP error with a short plain-text body."""
        assert isinstance(self.protocol, ServerProtocol)
        return self.protocol.reject(status, text)


# Shared by every handshake read: nothing reads or writes a message's headers once it was handled.
_NO_HEADERS = Headers()


def _forget(message: Request | Response) -> None:
    """The handshake's headers are read once; the protocol's parser keeps the message for the
    connection's life (a local of its generator), and its headers cost ~2 KiB per end."""
    message.headers = _NO_HEADERS


def _ignore_text(text: str) -> None:
    return None


class WsServer:
    """The WebSocket ends a listener accepted: closed with it, so none outlives the run."""

    def __init__(self) -> None:
        self.ends: set[ServerEnd] = set()
        self.server: asyncio.Server | None = None

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for end in list(self.ends):
            end.abort()


async def serve_ws(
    sock: socket.socket,
    subprotocols: list[Subprotocol],
    accepted: Callable[[ServerEnd, Request], None],
    *,
    check: Callable[[ServerEnd, Request], Response | None] | None = None,
    tls: ssl.SSLContext | None = None,
    backlog: int = 4096,
) -> WsServer:
    """Listen on `sock` (bound) for WebSocket handshakes offering one of `subprotocols`."""
    served = WsServer()

    def new_end() -> ServerEnd:
        protocol = ServerProtocol(subprotocols=subprotocols, max_size=MAX_MESSAGE)
        return ServerEnd(protocol, accepted, check, served.ends)

    loop = asyncio.get_running_loop()
    served.server = await loop.create_server(new_end, sock=sock, backlog=backlog, ssl=tls)
    return served

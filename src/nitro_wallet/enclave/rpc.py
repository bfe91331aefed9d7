"""The enclave's RPC server: frames in, handler calls, frames out, on every connection from the host.

Each decoded Request runs as its own task, so replies leave in completion order and carry the request's
id. Every fault becomes an ErrorReply with a code: a NitroWalletError keeps its code, message and field;
any other exception becomes "internal error" with no detail (its text could hold a secret) and is logged
by type only. One connection's garbage never reaches another connection or the server:

    undecodable body          -> bad_frame reply, keep reading (the framing is intact)
    Response/ErrorReply sent  -> bad_frame reply, keep reading
    too many requests pending -> overloaded reply for the excess, keep reading
    oversized length header   -> frame_too_large reply, close (the stream cannot be resynchronised)
    EOF or truncated frame    -> close, cancelling that connection's unfinished requests
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nitro_wallet.transport.address import Address
from nitro_wallet.transport.streams import (
    ConnectionClosed,
    FrameBatch,
    bound_address,
    close_stream,
    read_frame,
    start_server,
)
from nitro_wallet.wire.errors import BadFrame, FrameTooLarge, InternalError, NitroWalletError, Overloaded
from nitro_wallet.wire.messages import Message, Request, Response, decode, encode, error_reply
from nitro_wallet.wire.messages import request_id_hint as _request_id_hint

MAX_IN_FLIGHT_PER_CONNECTION = 64
MAX_CONNECTIONS = 64  # the host keeps a handful; more is a fault or an attack, refused at accept

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

log = logging.getLogger(__name__)


class RpcServer:
    """Serves `handler` on `address` until `close()`; usable as an async context manager."""

    def __init__(
        self, address: Address, handler: Handler, *, max_in_flight: int = MAX_IN_FLIGHT_PER_CONNECTION
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._requested = address
        self._handler = handler
        self._max_in_flight = max_in_flight
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._closing = False

    @property
    def address(self) -> Address:
        """Where the server listens, with the port the kernel chose if port 0 was asked for."""
        if self._server is None:
            return self._requested
        return bound_address(self._server, self._requested)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("RpcServer already started")
        self._server = await start_server(self._requested, self._serve_connection)

    async def close(self) -> None:
        """Stop listening, drop every connection and its in-flight requests, and wait for them."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> RpcServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._closing or task is None or len(self._connections) >= MAX_CONNECTIONS:
            await close_stream(writer)
            return
        connection = _Connection(reader, writer, self._handler, self._max_in_flight)
        self._connections[task] = connection
        try:
            await connection.run()
        finally:
            del self._connections[task]


async def serve(
    address: Address, handler: Handler, *, max_in_flight: int = MAX_IN_FLIGHT_PER_CONNECTION
) -> RpcServer:
    """Start an RpcServer; the caller closes it."""
    server = RpcServer(address, handler, max_in_flight=max_in_flight)
    await server.start()
    return server


class _Connection:
    """One host connection: a read loop plus one task per unfinished request."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: Handler,
        max_in_flight: int,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._max_in_flight = max_in_flight
        self._requests: set[asyncio.Task[None]] = set()
        self._replies = FrameBatch(writer)  # replies finished close together leave together

    def abort(self) -> None:
        """Drop the connection now, unsent replies and all; `run` then returns."""
        for task in self._requests:
            task.cancel()
        self._writer.transport.abort()

    async def run(self) -> None:
        try:
            await self._read_loop()
        finally:
            for task in self._requests:
                task.cancel()
            await asyncio.gather(*self._requests, return_exceptions=True)
            self._replies.flush()  # a last frame_too_large reply, say
            await close_stream(self._writer)

    async def _read_loop(self) -> None:
        while True:
            try:
                body = await read_frame(self._reader)
            except ConnectionClosed:
                return
            except FrameTooLarge as exc:
                await self._send(error_reply(None, exc))
                return
            except BadFrame as exc:  # an empty body: the next header is still where it should be
                await self._send(error_reply(None, exc))
                continue
            await self._dispatch(body)

    async def _dispatch(self, body: bytes) -> None:
        try:
            message = decode(body)
        except BadFrame as exc:
            await self._send(error_reply(_request_id_hint(body), exc))
            return
        if not isinstance(message, Request):
            await self._send(error_reply(None, BadFrame("the enclave accepts only requests")))
            return
        if len(self._requests) >= self._max_in_flight:
            limit = f"more than {self._max_in_flight} requests in flight on this connection"
            await self._send(error_reply(message.id, Overloaded(limit)))
            return
        task = asyncio.create_task(self._answer(message))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _answer(self, request: Request) -> None:
        try:
            result = await self._handler(request.method, request.params)
        except NitroWalletError as exc:
            await self._send(error_reply(request.id, exc))
            return
        except Exception as exc:  # every fault must become a reply
            # The type only: an exception's text can quote the secret it choked on.
            log.error("request %d (%s) failed with %s", request.id, request.method, type(exc).__name__)
            await self._send(error_reply(request.id, InternalError("internal error")))
            return
        await self._send(Response(request.id, result))

    async def _send(self, message: Message) -> None:
        try:
            body = encode(message)
            self._replies.send(body)
        except FrameTooLarge as exc:
            self._replies.send(encode(error_reply(message.id, exc)))
        except BadFrame as exc:
            # Only a handler's result can fail here: a bug in the enclave, not the host's fault.
            log.error("request %s returned an unencodable result (field %s)", message.id, exc.field)
            self._replies.send(encode(error_reply(message.id, InternalError("internal error"))))
        with contextlib.suppress(ConnectionError):  # the read loop sees the loss too, and closes
            await self._writer.drain()

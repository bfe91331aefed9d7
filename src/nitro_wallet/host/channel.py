"""The host's client for the enclave RPC: many concurrent calls multiplexed on one connection.

The connection opens on the first call. A background task reads replies and hands each to the call
waiting on its id (ids increase monotonically per channel); a reply for a call that already timed out is
dropped. Losing the connection fails every pending call with Unavailable; the next call reconnects.
Requests made close together (in one pass of the event loop) leave in one write (`FrameBatch`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from nitro_wallet.transport.address import Address, parse_address
from nitro_wallet.transport.streams import (
    ConnectionClosed,
    FrameBatch,
    close_stream,
    open_stream,
    read_frame,
)
from nitro_wallet.wire.errors import BadFrame, FrameTooLarge, Timeout, Unavailable, error_from_code
from nitro_wallet.wire.frames import check_body_length
from nitro_wallet.wire.messages import ErrorReply, Request, Response, decode, encode

DEFAULT_TIMEOUT_SECONDS = 30.0

Reply = Response | ErrorReply

log = logging.getLogger(__name__)


@dataclass
class _Link:
    """One open connection and the calls waiting for a reply on it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: FrameBatch
    pending: dict[int, asyncio.Future[Reply]] = field(default_factory=dict)
    lost: str | None = None  # why the connection is gone, once it is
    reader_task: asyncio.Task[None] | None = None


class EnclaveChannel:
    """`await channel.call(method, params)` returns the enclave's result or raises its error."""

    def __init__(self, address: Address | str, *, default_timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        if not default_timeout > 0:
            raise ValueError(f"default_timeout must be positive, got {default_timeout!r}")
        self._address = parse_address(address) if isinstance(address, str) else address
        self._default_timeout = default_timeout
        self._ids = itertools.count(1)
        self._link: _Link | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._connecting = asyncio.Lock()
        self._closed = False

    @property
    def address(self) -> Address:
        return self._address

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request and wait for its reply. Raises the enclave's error (BadRequest, Denied...),
        Timeout, Unavailable, or BadFrame/FrameTooLarge (before sending) if the request cannot be framed."""
        deadline = self._default_timeout if timeout is None else timeout
        request = Request(next(self._ids), method, {} if params is None else params)
        body = encode(request)
        check_body_length(len(body))
        try:
            async with asyncio.timeout(deadline):
                reply = await self._exchange(request.id, body)
        except TimeoutError:
            raise Timeout(f"no reply to {method!r} from the enclave within {deadline:g} s") from None
        if isinstance(reply, ErrorReply):
            raise error_from_code(reply.code, reply.message, reply.field)
        return reply.result

    async def close(self) -> None:
        """Close the connection; pending calls fail with Unavailable, later calls too."""
        self._closed = True
        link = self._link
        if link is not None:
            await self._drop(link, "the channel was closed")
        # A reader may still be closing a connection it lost on its own; wait for it.
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def __aenter__(self) -> EnclaveChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _exchange(self, request_id: int, body: bytes) -> Reply:
        link = await self._connect()
        if link.lost is not None:
            raise Unavailable(f"lost the connection to the enclave at {self._address}: {link.lost}")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            link.requests.send(body)
            await link.writer.drain()
            return await future
        except ConnectionError as exc:
            await self._drop(link, type(exc).__name__)
            raise Unavailable(f"lost the connection to the enclave at {self._address}") from None
        finally:
            del link.pending[request_id]  # a late reply now finds nobody and is dropped
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: the error is raised above, not logged at collection

    async def _connect(self) -> _Link:
        link = self._link
        if link is not None and not self._closed:  # connected: no lock to take
            return link
        async with self._connecting:
            if self._closed:
                raise Unavailable("the channel is closed")
            if self._link is not None:
                return self._link
            try:
                reader, writer = await open_stream(self._address)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise Unavailable(f"cannot connect to the enclave at {self._address}: {reason}") from None
            link = _Link(reader, writer, FrameBatch(writer))
            link.reader_task = asyncio.create_task(self._read_replies(link))
            self._readers.add(link.reader_task)
            link.reader_task.add_done_callback(self._readers.discard)
            self._link = link
            return link

    async def _read_replies(self, link: _Link) -> None:
        reason = "the enclave closed the connection"
        try:
            while True:
                try:
                    body = await read_frame(link.reader)
                except BadFrame:  # an empty frame; the stream is still in step
                    log.warning("ignored an empty frame from the enclave")
                    continue
                self._deliver(link, body)
        except ConnectionClosed as exc:
            reason = str(exc)
        except FrameTooLarge:
            reason = "the enclave sent an oversized frame"
        finally:
            if link.lost is None:
                await self._drop(link, reason)

    def _deliver(self, link: _Link, body: bytes) -> None:
        try:
            message = decode(body)
        except BadFrame as exc:
            log.warning("ignored an undecodable frame from the enclave: %s", exc.message)
            return
        if isinstance(message, Request):
            log.warning("ignored a request from the enclave (method %r)", message.method)
            return
        reply_id = message.id
        if reply_id is None:  # only an ErrorReply lacks an id: the enclave rejected a frame we sent
            log.warning("the enclave rejected a frame: %r", message)
            return
        future = link.pending.get(reply_id)
        if future is None or future.done():
            log.debug("dropped a reply to request %d, whose caller has gone", reply_id)
            return
        future.set_result(message)

    async def _drop(self, link: _Link, reason: str) -> None:
        """Forget `link`, fail its pending calls with Unavailable and close it."""
        if link.lost is not None:
            return
        link.lost = reason
        if self._link is link:
            self._link = None
        error = f"lost the connection to the enclave at {self._address}: {reason}"
        for future in link.pending.values():
            if not future.done():
                future.set_exception(Unavailable(error))
        task = link.reader_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await close_stream(link.writer, abort=True)  # pending calls have failed: unsent bytes are moot

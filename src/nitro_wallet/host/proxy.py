"""Outbound proxies for the enclave: the counterpart of AWS's `vsock-proxy`.

An enclave has no network of its own. Each proxy listens where the enclave can connect (vsock in
production, loopback locally) and forwards every connection to ONE upstream fixed at start-up, which must be
on the proxy's allowlist: the host cannot be talked into opening other connections on the enclave's behalf.
Everything relayed is opaque to the host (TLS in production); an optional observer sees the bytes, which is
how the tests prove that no plaintext key crosses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from nitro_wallet.transport.address import Address, TcpAddress
from nitro_wallet.transport.streams import bound_address, close_stream, start_server

log = logging.getLogger(__name__)

RELAY_CHUNK_BYTES = 64 * 1024
Observer = Callable[[str, bytes], None]  # ("to_upstream" | "from_upstream", chunk)


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class NotAllowed(ValueError):
    pass


class TcpProxy:
    def __init__(
        self,
        listen: Address,
        upstream: Upstream,
        *,
        allowlist: Collection[Upstream],
        observer: Observer | None = None,
    ) -> None:
        if upstream not in allowlist:
            raise NotAllowed(f"upstream {upstream} is not on the proxy allowlist")
        self._listen = listen
        self.upstream = upstream
        self._observer = observer
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> Address:
        return self._listen if self._server is None else bound_address(self._server, self._listen)

    @property
    def url(self) -> str:
        """An http:// URL for a TCP listener (how the enclave's image config names its KMS endpoint)."""
        address = self.address
        if not isinstance(address, TcpAddress):
            raise ValueError("only a TCP proxy has a URL")
        return f"http://{address.host}:{address.port}"

    async def start(self) -> None:
        self._server = await start_server(self._listen, self._accept)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._relays:
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream.host, self.upstream.port)
        except OSError as exc:
            log.warning("proxy cannot reach %s: %s", self.upstream, type(exc).__name__)
            await close_stream(writer)
            self._relays.discard(task)
            return
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, "to_upstream"), self._pump(up_reader, writer, "from_upstream")
            )
        except asyncio.CancelledError:
            pass  # close() cancels relays; asyncio's server callback must not see that as a failure
        finally:
            await close_stream(up_writer)
            await close_stream(writer)
            self._relays.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, direction: str) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(RELAY_CHUNK_BYTES):
                if self._observer is not None:
                    self._observer(direction, chunk)
                sink.write(chunk)
                await sink.drain()
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()

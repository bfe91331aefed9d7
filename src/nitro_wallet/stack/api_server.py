"""The host API served by uvicorn inside `nitro-wallet up`'s own event loop.

`up` owns SIGINT and SIGTERM (it stops its children in order), so this runs uvicorn's `serve` in its two
halves instead of calling it (which would capture the signals): `start` binds and runs the start-up,
`stop` lets the requests in flight finish and closes.

uvicorn writes a response's head and its body separately: two send() calls, and often two wake-ups of the
client, for every answer. `HttpProtocol` has them leave together (`PairedWrites`).

With `client_tls`, a server is the eth2 routes' mutual-TLS listener: a second server of the same app (whose
lifespan the first one runs) that terminates TLS, requires a client certificate signed by the given CA, and
marks what it serves as having come through it (`client_allowlist.MutualTlsListener`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from nitro_wallet.host.api.client_allowlist import MutualTlsListener


class PairedWrites(asyncio.Transport):
    """A transport that holds one write back until the next one (or the end of this pass of the event
    loop, or a close), then sends both in one call. A response's head thus goes out with its body; a
    streamed body's chunks are each delayed by at most one pass, so flow control still sees them."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            held, self._held = self._held, None
            self._transport.write(held + data)

    def flush(self) -> None:
        """Send what is held, if the connection is still open."""
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through `PairedWrites`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = PairedWrites(transport, self.loop)


@dataclass(frozen=True)
class ClientTls:
    """A mutual-TLS listener's PEM files: its certificate (chain) and key, and the CA that must have signed
    its clients' certificates."""

    cert: Path
    key: Path
    client_ca: Path


class ApiServer:
    def __init__(self, app: ASGIApp, host: str, port: int, *, client_tls: ClientTls | None = None) -> None:
        self._socket = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = self._socket.getsockname()[:2]
        self.tls = client_tls is not None
        config = uvicorn.Config(
            app if client_tls is None else MutualTlsListener(app),
            http=HttpProtocol,
            lifespan="on" if client_tls is None else "off",
            ssl_certfile=client_tls.cert if client_tls else None,
            ssl_keyfile=client_tls.key if client_tls else None,
            ssl_ca_certs=client_tls.client_ca if client_tls else None,
            ssl_cert_reqs=ssl.CERT_NONE if client_tls is None else ssl.CERT_REQUIRED,
            access_log=False,
            log_level="warning",
            server_header=False,
            date_header=False,
            proxy_headers=False,  # nothing reads the client's address or scheme: no layer to rewrite them
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind, run the app's lifespan start-up and begin serving (uvicorn's `serve`, in two halves)."""
        config = self._server.config
        if not config.loaded:
            config.load()
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        if self._server.should_exit:
            raise RuntimeError("the host API did not start (see the log above)")
        self._task = asyncio.create_task(self._server.main_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            await self._server.shutdown(sockets=[self._socket])
            self._task = None
        self._socket.close()

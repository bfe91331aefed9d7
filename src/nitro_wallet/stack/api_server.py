"""The host API served by uvicorn inside `nitro-wallet up`'s own event loop.

`up` owns SIGINT and SIGTERM (it stops its children in order), so this runs uvicorn's `serve` in its two
halves instead of calling it (which would capture the signals): `start` binds and runs the start-up,
`stop` lets the requests in flight finish and closes.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp


class ApiServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self._socket = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            app,
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            server_header=False,
            date_header=False,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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

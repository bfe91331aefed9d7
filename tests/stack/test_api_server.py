"""The host API's uvicorn server: a response's head and body leave in one write, and nothing else changes
(keep-alive, streamed bodies, closing) for clients on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from nitro_wallet.stack.api_server import ApiServer, PairedWrites

pytestmark = pytest.mark.anyio

GUARD_SECONDS = 20  # only turns a hang (a regression) into a failure; nothing is timed
CHUNKS = [b"first,", b"second,", b"third"]


class RecordingTransport(asyncio.Transport):
    """Records what reaches the socket, write by write, which the socket itself cannot show."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


async def end_of_pass() -> None:
    """Returns once the callbacks already scheduled on the loop have run (they run in order)."""
    reached = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(reached.set_result, None)
    await reached


async def test_a_head_and_its_body_go_out_in_one_write() -> None:
    socket = RecordingTransport()
    paired = PairedWrites(socket, asyncio.get_running_loop())
    paired.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert socket.writes == []
    assert paired.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\n")
    paired.write(b"body")
    assert socket.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_a_write_left_alone_goes_out_at_the_end_of_the_pass() -> None:
    socket = RecordingTransport()
    paired = PairedWrites(socket, asyncio.get_running_loop())
    paired.write(b"alone")
    await end_of_pass()
    assert socket.writes == [b"alone"]


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    socket = RecordingTransport()
    paired = PairedWrites(socket, asyncio.get_running_loop())
    paired.write(b"last words")
    paired.close()
    assert socket.writes == [b"last words"]
    assert socket.closed

    socket = RecordingTransport()
    paired = PairedWrites(socket, asyncio.get_running_loop())
    paired.write(b"never sent")
    paired.abort()
    await end_of_pass()
    assert socket.writes == []
    assert socket.aborted


async def json_answer(request: Request) -> Response:
    return JSONResponse({"path": request.url.path, "body": (await request.body()).decode()})


async def streamed(_request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            await asyncio.sleep(0)  # a yield, not a wait: each chunk in a pass of the loop of its own
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    app = Starlette(routes=[Route("/json", json_answer, methods=["POST"]), Route("/stream", streamed)])
    api = ApiServer(app, "127.0.0.1", 0)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


async def test_answers_on_one_kept_alive_connection_arrive_whole(server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client, asyncio.timeout(GUARD_SECONDS):
        for n in range(20):
            response = await client.post("/json", content=f"request {n}".encode())
            assert response.status_code == 200
            assert response.json() == {"path": "/json", "body": f"request {n}"}
            assert response.headers.get("connection") != "close"
        connections = server._server.server_state.connections
        assert len(connections) == 1
        assert all(isinstance(connection.transport, PairedWrites) for connection in connections)  # type: ignore[attr-defined]


async def test_a_streamed_body_arrives_whole(server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client, asyncio.timeout(GUARD_SECONDS):
        response = await client.get("/stream")
        assert response.status_code == 200
        assert response.content == b"".join(CHUNKS)


async def test_an_answer_that_closes_the_connection_is_sent_before_the_close(server: ApiServer) -> None:
    async with asyncio.timeout(GUARD_SECONDS):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"POST /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")
        answer = await reader.read()  # until the server closes
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b'{"path":"/json","body":"hi"}'

"""Frames over real sockets (Unix and loopback TCP, and AF_VSOCK as far as this kernel allows)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import socket
import stat
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest

from nitro_wallet.transport.address import Address, TcpAddress, UnixAddress, VsockAddress
from nitro_wallet.transport.streams import (
    UNIX_SOCKET_MODE,
    ConnectionClosed,
    FrameBatch,
    bound_address,
    close_stream,
    open_stream,
    read_frame,
    start_server,
    write_frame,
)
from nitro_wallet.wire.errors import BadFrame, FrameTooLarge
from nitro_wallet.wire.frames import MAX_FRAME_BYTES

pytestmark = pytest.mark.anyio

GUARD_SECONDS = 20  # only turns a hang (a regression) into a failure; nothing is timed


class FrameEcho:
    """Server side of these tests: sends back every frame it reads and reports each fault it sees."""

    def __init__(self) -> None:
        self.faults: asyncio.Queue[Exception] = asyncio.Queue()
        self.connections: set[asyncio.Task[object]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        self.writers.append(writer)
        try:
            while True:
                try:
                    body = await read_frame(reader)
                except BadFrame as exc:
                    await self.faults.put(exc)
                    continue
                except (FrameTooLarge, ConnectionClosed) as exc:
                    await self.faults.put(exc)
                    return
                write_frame(writer, body)
                await writer.drain()
        finally:
            await close_stream(writer)


@contextlib.asynccontextmanager
async def echo_server(address: Address) -> AsyncIterator[tuple[FrameEcho, Address]]:
    echo = FrameEcho()
    server = await start_server(address, echo)
    try:
        yield echo, bound_address(server, address)
    finally:
        server.close()
        await server.wait_closed()
        for writer in echo.writers:  # a connection stuck in drain() would otherwise never end
            writer.transport.abort()
        await asyncio.gather(*echo.connections, return_exceptions=True)


async def test_frames_round_trip_including_exactly_max_frame_bytes(listen_address: Address) -> None:
    async with echo_server(listen_address) as (_, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)
        for body in (b"x", bytes(range(256)) * 4096, os.urandom(MAX_FRAME_BYTES)):  # 1 B, 1 MiB, 4 MiB
            write_frame(writer, body)
            await writer.drain()
            assert await read_frame(reader) == body
        await close_stream(writer)


async def test_header_one_over_the_bound_is_refused_before_any_body(listen_address: Address) -> None:
    async with echo_server(listen_address) as (echo, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)
        writer.write(struct.pack(">I", MAX_FRAME_BYTES + 1))  # the header alone: no body ever follows
        await writer.drain()
        fault = await echo.faults.get()
        assert isinstance(fault, FrameTooLarge)
        assert str(MAX_FRAME_BYTES + 1) in fault.message
        with pytest.raises(ConnectionClosed):  # the server gave up on the stream
            await read_frame(reader)
        await close_stream(writer)


async def test_empty_frame_is_bad_but_the_stream_stays_in_step(listen_address: Address) -> None:
    async with echo_server(listen_address) as (echo, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)
        writer.write(b"\x00\x00\x00\x00" + b"\x00\x00\x00\x02ok")
        await writer.drain()
        assert isinstance(await echo.faults.get(), BadFrame)
        assert await read_frame(reader) == b"ok"
        await close_stream(writer)


@pytest.mark.parametrize(
    ("sent", "mid_frame", "detail"),
    [
        (b"", False, "connection closed"),
        (b"\x00\x00\x00\x02ok", False, "connection closed"),
        (b"\x00\x00", True, "inside a frame header (2 of 4 bytes)"),
        (b"\x00\x00\x00\x05abc", True, "inside a frame body (3 of 5 bytes)"),
    ],
)
async def test_eof_and_truncation_are_a_clean_signal(
    listen_address: Address, sent: bytes, mid_frame: bool, detail: str
) -> None:
    async with echo_server(listen_address) as (echo, address), asyncio.timeout(GUARD_SECONDS):
        _, writer = await open_stream(address)
        writer.write(sent)
        writer.write_eof()
        await writer.drain()
        fault = await echo.faults.get()
        assert isinstance(fault, ConnectionClosed)
        assert fault.mid_frame is mid_frame
        assert detail in str(fault)
        await close_stream(writer)


class RecordingWriter:
    """Stands in for a StreamWriter to count write calls, which a socket cannot show."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def test_write_frame_is_one_write_call() -> None:
    recorder = RecordingWriter()
    write_frame(recorder, b"body")  # type: ignore[arg-type]
    write_frame(recorder, b"\x01" * 70000)  # type: ignore[arg-type]
    assert recorder.writes == [b"\x00\x00\x00\x04body", struct.pack(">I", 70000) + b"\x01" * 70000]


def test_write_frame_writes_nothing_when_the_body_cannot_be_framed() -> None:
    recorder = RecordingWriter()
    with pytest.raises(FrameTooLarge):
        write_frame(recorder, b"\x00" * (MAX_FRAME_BYTES + 1))  # type: ignore[arg-type]
    with pytest.raises(BadFrame):
        write_frame(recorder, b"")  # type: ignore[arg-type]
    assert recorder.writes == []


async def test_concurrent_writers_never_interleave(listen_address: Address) -> None:
    async with echo_server(listen_address) as (_, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)

        async def send(tag: int) -> None:
            write_frame(writer, bytes([tag]) * (100_000 + tag))
            await writer.drain()

        async def receive() -> list[bytes]:  # concurrently, or both sides would block in drain()
            return [await read_frame(reader) for _ in range(20)]

        receiving = asyncio.create_task(receive())
        await asyncio.gather(*(send(tag) for tag in range(20)))
        received = sorted(await receiving, key=len)
        assert received == [bytes([tag]) * (100_000 + tag) for tag in range(20)]
        await close_stream(writer)


class RecordingStream:
    """A StreamWriter's write side that records each write, with a transport that can be closing."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.transport = self
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing


async def end_of_pass() -> None:
    """Returns once the callbacks already scheduled on the loop have run (they run in order)."""
    reached = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(reached.set_result, None)
    await reached


async def test_a_frame_batch_writes_the_frames_of_one_pass_in_one_call() -> None:
    recorder = RecordingStream()
    batch = FrameBatch(recorder)  # type: ignore[arg-type]
    batch.send(b"one")
    batch.send(b"two")
    assert recorder.writes == []
    await end_of_pass()
    assert recorder.writes == [b"\x00\x00\x00\x03one\x00\x00\x00\x03two"]
    batch.send(b"three")
    batch.flush()  # at once, when asked
    await end_of_pass()
    assert recorder.writes[1:] == [b"\x00\x00\x00\x05three"]


async def test_a_frame_batch_refuses_a_bad_body_before_queueing_and_writes_nothing_once_closing() -> None:
    recorder = RecordingStream()
    batch = FrameBatch(recorder)  # type: ignore[arg-type]
    with pytest.raises(FrameTooLarge):
        batch.send(b"\x00" * (MAX_FRAME_BYTES + 1))
    with pytest.raises(BadFrame):
        batch.send(b"")
    batch.send(b"late")
    recorder.closing = True
    await end_of_pass()
    assert recorder.writes == []


async def test_batched_frames_from_many_tasks_arrive_whole(listen_address: Address) -> None:
    async with echo_server(listen_address) as (_, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)
        batch = FrameBatch(writer)

        async def send(tag: int) -> None:
            batch.send(bytes([tag]) * (1000 + tag))
            await writer.drain()

        await asyncio.gather(*(send(tag) for tag in range(50)))
        received = sorted([await read_frame(reader) for _ in range(50)], key=len)
        assert received == [bytes([tag]) * (1000 + tag) for tag in range(50)]
        await close_stream(writer)


async def test_open_stream_raises_oserror_when_nobody_listens(listen_address: Address) -> None:
    if isinstance(listen_address, TcpAddress):
        with socket.socket() as probe:  # a port that was free a moment ago
            probe.bind(("127.0.0.1", 0))
            listen_address = TcpAddress("127.0.0.1", probe.getsockname()[1])
    with pytest.raises(OSError):  # noqa: PT011 - refused or missing, depending on the family
        await open_stream(listen_address)


# ---- Unix socket files -------------------------------------------------------------------------------


@pytest.fixture
def socket_path() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="nw-")
    try:
        yield os.path.join(directory, "enclave.sock")
    finally:
        shutil.rmtree(directory)


async def test_unix_socket_is_owner_only(socket_path: str) -> None:
    previous = os.umask(0)  # the most permissive umask: without the chmod the socket would be 0o777
    try:
        async with echo_server(UnixAddress(socket_path)):
            mode = os.stat(socket_path).st_mode
            assert stat.S_ISSOCK(mode)
            assert stat.S_IMODE(mode) == UNIX_SOCKET_MODE == 0o600
    finally:
        os.umask(previous)


async def test_stale_unix_socket_is_replaced(socket_path: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leftover:
        leftover.bind(socket_path)  # bound, never listening, then gone: what a crashed server leaves
    async with echo_server(UnixAddress(socket_path)) as (_, address), asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(address)
        write_frame(writer, b"fresh")
        assert await read_frame(reader) == b"fresh"
        await close_stream(writer)


async def test_a_live_unix_socket_is_not_stolen(socket_path: str) -> None:
    async with echo_server(UnixAddress(socket_path)):
        with pytest.raises(OSError, match="another server is listening") as caught:
            await start_server(UnixAddress(socket_path), FrameEcho())
        assert caught.value.errno == errno.EADDRINUSE


async def test_a_file_that_is_not_a_socket_is_never_removed(socket_path: str) -> None:
    with open(socket_path, "w") as precious:
        precious.write("keep me")
    with pytest.raises(FileExistsError, match="not a socket"):
        await start_server(UnixAddress(socket_path), FrameEcho())
    with open(socket_path) as precious:
        assert precious.read() == "keep me"


# ---- AF_VSOCK ----------------------------------------------------------------------------------------

VMADDR_CID_LOCAL = 1  # not exported by Python 3.11's socket module


def vsock_socket_or_skip() -> socket.socket:
    try:
        return socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    except OSError as exc:
        pytest.skip(
            f"cannot create an AF_VSOCK socket here ({errno.errorcode.get(exc.errno or 0)}): no vsock"
        )


async def test_vsock_server_binds_every_cid() -> None:
    vsock_socket_or_skip().close()
    try:
        server = await start_server(VsockAddress(socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY), FrameEcho())
    except OSError as exc:
        pytest.skip(
            f"the kernel refuses to bind AF_VSOCK ({errno.errorcode.get(exc.errno or 0)}): no transport"
        )
    try:
        (listening,) = server.sockets
        assert listening.family == socket.AF_VSOCK
        cid, port = listening.getsockname()
        assert cid == socket.VMADDR_CID_ANY
        assert port != socket.VMADDR_PORT_ANY  # the kernel picked a real port
        assert bound_address(
            server, VsockAddress(socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY)
        ) == VsockAddress(socket.VMADDR_CID_ANY, port)
    finally:
        server.close()
        await server.wait_closed()


async def test_vsock_frames_round_trip_over_loopback() -> None:
    vsock_socket_or_skip().close()
    if not os.path.isdir("/sys/module/vsock_loopback"):
        pytest.skip("vsock loopback needs the vsock_loopback kernel module, which is not loaded here")
    any_port = VsockAddress(socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY)
    async with echo_server(any_port) as (_, address), asyncio.timeout(GUARD_SECONDS):
        assert isinstance(address, VsockAddress)
        reader, writer = await open_stream(VsockAddress(VMADDR_CID_LOCAL, address.port))
        write_frame(writer, b"over vsock")
        assert await read_frame(reader) == b"over vsock"
        await close_stream(writer)


async def test_vsock_connect_failure_is_an_oserror_and_closes_the_socket() -> None:
    vsock_socket_or_skip().close()
    # The hypervisor side (CID 2) has nothing on this port: refused, reset or unreachable, never a hang.
    fds_before = len(os.listdir("/proc/self/fd"))
    async with asyncio.timeout(GUARD_SECONDS):
        with pytest.raises(OSError):  # noqa: PT011 - the errno depends on the hypervisor
            await open_stream(VsockAddress(socket.VMADDR_CID_HOST, 4_000_000_000))
    assert len(os.listdir("/proc/self/fd")) == fds_before

"""asyncio byte streams over AF_VSOCK, Unix sockets or TCP, and reading/writing frames on them.

A frame is read as its 4-byte header, then exactly the announced number of bytes (`readexactly`), after
the header has been checked against MAX_FRAME_BYTES; nothing here reads into a fixed-size buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import stat
from collections.abc import Awaitable, Callable

from nitro_wallet.transport.address import Address, TcpAddress, UnixAddress, VsockAddress
from nitro_wallet.wire.frames import HEADER, decode_header, encode_frame

UNIX_SOCKET_MODE = 0o600  # only the owner (the host process's user) may connect
MAX_BATCH_DELAY_SECONDS = 0.0005  # how long a FrameBatch may hold a frame while it works on others

ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ConnectionClosed(EOFError):
    """The peer closed the stream: cleanly between frames, or mid-frame (`mid_frame`)."""

    def __init__(self, message: str, *, mid_frame: bool) -> None:
        super().__init__(message)
        self.mid_frame = mid_frame


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One frame's body. Raises FrameTooLarge (before reading the body), BadFrame for an empty body
    (the stream is still in step after it), or ConnectionClosed."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ConnectionClosed("connection closed", mid_frame=False) from None
        raise ConnectionClosed(
            f"connection closed inside a frame header ({len(exc.partial)} of 4 bytes)", mid_frame=True
        ) from None
    except ConnectionError as exc:
        raise ConnectionClosed(f"connection lost: {type(exc).__name__}", mid_frame=False) from None
    length = decode_header(header)
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionClosed(
            f"connection closed inside a frame body ({len(exc.partial)} of {length} bytes)", mid_frame=True
        ) from None
    except ConnectionError as exc:
        raise ConnectionClosed(
            f"connection lost inside a frame: {type(exc).__name__}", mid_frame=True
        ) from None


def write_frame(writer: asyncio.StreamWriter, body: bytes) -> None:
    """Queue header and body in ONE write, so frames from concurrent tasks never interleave.
    Raises FrameTooLarge or BadFrame before writing anything. Callers await `writer.drain()`."""
    writer.write(encode_frame(body))


class FrameBatch:
    """Frames queued during one pass of the event loop and written at its end, in one call, or as soon as
    the oldest has waited MAX_BATCH_DELAY_SECONDS.

    Under load many tasks answer or ask in the same pass; writing each frame on its own costs one send()
    here and one wake-up there per frame. But a pass can be long (a burst of requests, each worked on in
    turn), and a frame held to its end idles the peer that could already work on it: hence the bound.
    Whole frames are joined, so they never interleave. Nothing is written once the transport is closing
    (the reader sees the loss and fails what was pending).
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._frames: list[bytes] = []
        self._opened = 0.0  # the loop's time when the oldest queued frame was queued

    def send(self, body: bytes) -> None:
        """Queue one frame. Raises FrameTooLarge or BadFrame before queueing anything. Callers await
        `writer.drain()` as for `write_frame`."""
        frame = encode_frame(body)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._frames:
            self._opened = now
            loop.call_soon(self.flush)
        self._frames.append(frame)
        if now - self._opened >= MAX_BATCH_DELAY_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what is queued now (it is written at the end of the pass anyway)."""
        frames, self._frames = self._frames, []
        if frames and not self._writer.transport.is_closing():
            self._writer.write(frames[0] if len(frames) == 1 else b"".join(frames))


async def open_stream(address: Address) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to `address`. Raises OSError when the connection cannot be made."""
    if isinstance(address, UnixAddress):
        return await asyncio.open_unix_connection(address.path)
    if isinstance(address, TcpAddress):
        return await asyncio.open_connection(address.host, address.port)
    sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address.cid, address.port))
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def start_server(address: Address, client_connected_cb: ClientConnected) -> asyncio.Server:
    """Listen on `address` (vsock: every CID; unix: a 0o600 socket file, replacing a stale one)."""
    if isinstance(address, TcpAddress):
        return await asyncio.start_server(client_connected_cb, address.host, address.port)
    if isinstance(address, UnixAddress):
        return await asyncio.start_unix_server(client_connected_cb, sock=_bind_unix(address.path))
    return await asyncio.start_server(client_connected_cb, sock=_bind_vsock(address))


def bound_address(server: asyncio.Server, address: Address) -> Address:
    """`address` with the port the kernel chose (for TCP port 0 or VMADDR_PORT_ANY); first socket wins."""
    if isinstance(address, UnixAddress) or not server.sockets:
        return address
    port = server.sockets[0].getsockname()[1]
    if isinstance(address, TcpAddress):
        return TcpAddress(address.host, port, allow_remote=address.allow_remote)
    return VsockAddress(address.cid, port)


def _bind_vsock(address: VsockAddress) -> socket.socket:
    sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    try:
        sock.bind((socket.VMADDR_CID_ANY, address.port))
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_unix(path: str) -> socket.socket:
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        # Nobody can connect before listen(), which asyncio calls later, so chmod after bind is not racy.
        os.chmod(path, UNIX_SOCKET_MODE)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file nobody listens on; refuse to touch anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(errno.EEXIST, "exists and is not a socket; refusing to replace it", path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # stale: left behind by a server that is gone
        return
    except FileNotFoundError:
        return
    except BlockingIOError:
        pass  # a live server with a full backlog
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "another server is listening on this socket", path)


async def close_stream(writer: asyncio.StreamWriter, *, abort: bool = False) -> None:
    """Close a stream whose peer may already be gone, and wait until the transport is released.
    `abort` drops unsent data instead of waiting for a peer that may never read it."""
    if abort:
        writer.transport.abort()
    else:
        writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()

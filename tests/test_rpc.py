"""The enclave RPC server and the host's EnclaveChannel, end to end over real sockets.

Raw frames in these tests are built with struct and cbor2 directly, not with our codec. Nothing waits
on a clock: handlers block on events the tests set, and `GUARD_SECONDS` only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.rpc import MAX_CONNECTIONS, RpcServer, serve
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.transport.address import Address, UnixAddress, VsockAddress
from nitro_wallet.transport.streams import close_stream, open_stream, read_frame, write_frame
from nitro_wallet.wire import errors
from nitro_wallet.wire.errors import (
    BadFrame,
    BadRequest,
    FrameTooLarge,
    InternalError,
    NitroWalletError,
    Overloaded,
    Timeout,
    Unavailable,
    UnknownMethod,
)
from nitro_wallet.wire.frames import MAX_FRAME_BYTES
from nitro_wallet.wire.messages import Request, Response, decode, encode

GUARD_SECONDS = 20
CANARY = "secret-canary"


class Scripted:
    """The handler the tests drive; each method is one behaviour."""

    def __init__(self) -> None:
        self.entered: asyncio.Queue[int] = asyncio.Queue()
        self.gates: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.cancelled: list[int] = []

    async def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "echo":
            return {"echo": params}
        if method == "wait":  # block until the test opens gate n
            n = params["n"]
            await self.entered.put(n)
            try:
                await self.gates[n].wait()
            except asyncio.CancelledError:
                self.cancelled.append(n)
                raise
            return {"n": n}
        if method == "fail":
            error_class = getattr(errors, params["class"])
            raise error_class(params["message"], field=params["field"])
        if method == "crash":
            raise RuntimeError(f"decrypt failed for key {CANARY}")
        if method == "unencodable":
            return {"when": datetime.date(2024, 1, 1)}
        if method == "huge":
            return {"blob": bytes(MAX_FRAME_BYTES)}
        raise UnknownMethod(f"no method {method!r}", field="method")


@contextlib.asynccontextmanager
async def running(address: Address, handler: Scripted, **options: Any) -> AsyncIterator[RpcServer]:
    server = await serve(address, handler, **options)
    try:
        yield server
    finally:
        await server.close()


def raw_frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


async def raw_reply(reader: asyncio.StreamReader) -> dict[str, Any]:
    (length,) = struct.unpack(">I", await reader.readexactly(4))
    reply = cbor2.loads(await reader.readexactly(length))
    assert isinstance(reply, dict)
    return reply


pytestmark = pytest.mark.anyio


# ---- calls -------------------------------------------------------------------------------------------


async def test_call_returns_the_result_with_bytes_and_a_large_value(listen_address: Address) -> None:
    handler = Scripted()
    async with running(listen_address, handler) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            assert await channel.call("echo") == {"echo": {}}
            params = {"digest": bytes(range(32)), "big": 2**256 - 1, "blob": os.urandom(MAX_FRAME_BYTES // 2)}
            assert await channel.call("echo", params) == {"echo": params}


async def test_a_frame_of_exactly_max_frame_bytes_round_trips(listen_address: Address) -> None:
    handler = Scripted()
    overhead = len(encode(Request(1, "echo", {"blob": bytes(70000)}))) - 70000
    blob = os.urandom(MAX_FRAME_BYTES - overhead)
    assert len(encode(Request(1, "echo", {"blob": blob}))) == MAX_FRAME_BYTES  # the channel's first id is 1
    async with running(listen_address, handler) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            assert await channel.call("echo", {"blob": blob}) == {"echo": {"blob": blob}}
            with pytest.raises(FrameTooLarge):  # one byte more is refused before anything is sent
                await channel.call("echo", {"blob": blob + b"\x00"})
            assert await channel.call("echo", {"n": 1}) == {"echo": {"n": 1}}


async def test_a_header_one_over_the_bound_gets_frame_too_large_and_a_closed_connection(
    listen_address: Address,
) -> None:
    async with running(listen_address, Scripted()) as server, asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(server.address)
        writer.write(struct.pack(">I", MAX_FRAME_BYTES + 1))
        reply = await raw_reply(reader)
        assert reply["id"] is None
        assert reply["error"]["code"] == "frame_too_large"
        assert await reader.read() == b""  # closed: a stream cannot be resynchronised
        writer.close()
        async with EnclaveChannel(server.address) as channel:  # the server still serves others
            assert await channel.call("echo", {"still": "up"}) == {"echo": {"still": "up"}}


async def test_a_result_too_large_to_frame_becomes_frame_too_large(listen_address: Address) -> None:
    async with running(listen_address, Scripted()) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            with pytest.raises(FrameTooLarge):
                await channel.call("huge")
            assert await channel.call("echo") == {"echo": {}}


async def test_replies_in_completion_order_reach_their_own_callers(listen_address: Address) -> None:
    handler = Scripted()
    count = 12
    async with running(listen_address, handler) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            calls = [asyncio.create_task(channel.call("wait", {"n": n})) for n in range(count)]
            assert sorted([await handler.entered.get() for _ in range(count)]) == list(range(count))
            for n in reversed(range(count)):  # finish the last sent first
                handler.gates[n].set()
                assert await calls[n] == {"n": n}
                assert not any(call.done() for call in calls[:n])


# ---- errors ------------------------------------------------------------------------------------------

ERROR_CLASSES = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, NitroWalletError) and cls is not NitroWalletError
]


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda cls: cls.__name__)
async def test_a_nitro_wallet_error_keeps_its_class_message_and_field(
    listen_address: Address, error_class: type[NitroWalletError]
) -> None:
    params = {"class": error_class.__name__, "message": "amount is negative", "field": "x"}
    async with running(listen_address, Scripted()) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            with pytest.raises(error_class) as caught:
                await channel.call("fail", params)
    assert type(caught.value) is error_class
    assert (caught.value.message, caught.value.field) == ("amount is negative", "x")


async def test_bad_request_names_the_field(listen_address: Address) -> None:
    params = {"class": "BadRequest", "message": "x must be positive", "field": "x"}
    async with running(listen_address, Scripted()) as server, EnclaveChannel(server.address) as channel:
        with pytest.raises(BadRequest, match="x must be positive") as caught:
            await channel.call("fail", params, timeout=GUARD_SECONDS)
    assert caught.value.field == "x"


async def test_any_other_exception_is_an_opaque_internal_error(
    listen_address: Address, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(listen_address, Scripted()) as server, EnclaveChannel(server.address) as channel:
        with pytest.raises(InternalError) as caught:
            await channel.call("crash", timeout=GUARD_SECONDS)
        assert await channel.call("echo", timeout=GUARD_SECONDS) == {"echo": {}}
    assert caught.value.message == "internal error"
    assert caught.value.field is None
    assert CANARY not in str(caught.value)
    assert "RuntimeError" in caplog.text  # the type is logged...
    assert CANARY not in caplog.text  # ...never the text


async def test_an_unencodable_result_is_an_internal_error(listen_address: Address) -> None:
    async with running(listen_address, Scripted()) as server, EnclaveChannel(server.address) as channel:
        with pytest.raises(InternalError, match=r"^internal error$"):
            await channel.call("unencodable", timeout=GUARD_SECONDS)


async def test_a_request_that_cannot_be_framed_is_refused_locally(listen_address: Address) -> None:
    async with EnclaveChannel(listen_address) as channel:  # nothing listens: nothing may be sent
        with pytest.raises(BadFrame, match="method"):
            await channel.call("two words")
        with pytest.raises(BadFrame, match=r"params\.when"):
            await channel.call("echo", {"when": datetime.date(2024, 1, 1)})


# ---- garbage on a connection -------------------------------------------------------------------------


async def test_garbage_gets_bad_frame_and_the_connection_carries_on(listen_address: Address) -> None:
    async with running(listen_address, Scripted()) as server, asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(server.address)
        writer.write(raw_frame(b"\xff not cbor"))
        writer.write(b"\x00\x00\x00\x00")  # an empty frame
        writer.write(raw_frame(cbor2.dumps({"id": 5, "result": {}})))  # a reply sent to the server
        writer.write(raw_frame(cbor2.dumps({"id": 6, "method": "echo", "params": [1]})))  # a bad request
        writer.write(raw_frame(cbor2.dumps({"id": 7, "method": "echo", "params": {"ok": True}})))
        replies = [await raw_reply(reader) for _ in range(5)]
        errors_seen = [(r["id"], r["error"]["code"]) for r in replies if "error" in r]
        assert errors_seen == [
            (None, "bad_frame"),
            (None, "bad_frame"),
            (None, "bad_frame"),
            (6, "bad_frame"),
        ]
        assert {"id": 7, "result": {"echo": {"ok": True}}} in replies
        writer.close()


@pytest.mark.parametrize(
    "tail", [b"", b"\x00\x00", b"\x00\x00\x00\x09abc"], ids=["eof", "cut-header", "cut-body"]
)
async def test_eof_or_a_truncated_frame_closes_only_that_connection(
    listen_address: Address, tail: bytes
) -> None:
    async with running(listen_address, Scripted()) as server, asyncio.timeout(GUARD_SECONDS):
        reader, writer = await open_stream(server.address)
        writer.write(tail)
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        async with EnclaveChannel(server.address) as channel:
            assert await channel.call("echo") == {"echo": {}}


# ---- timeouts, overload, lost connections -------------------------------------------------------------


async def test_a_timeout_leaves_the_connection_usable_and_drops_the_late_reply(
    listen_address: Address,
) -> None:
    handler = Scripted()
    async with running(listen_address, handler) as server, EnclaveChannel(server.address) as channel:
        async with asyncio.timeout(GUARD_SECONDS):
            with pytest.raises(Timeout, match="'wait'"):
                await channel.call("wait", {"n": 1}, timeout=0.05)
            assert await channel.call("echo", {"a": 1}) == {"echo": {"a": 1}}
            handler.gates[1].set()  # the late reply for the timed-out call now arrives
            calls = [channel.call("echo", {"b": n}) for n in range(3)]
            assert await asyncio.gather(*calls) == [{"echo": {"b": n}} for n in range(3)]


async def test_more_than_max_in_flight_is_overloaded(listen_address: Address) -> None:
    handler = Scripted()
    async with (
        running(listen_address, handler, max_in_flight=2) as server,
        EnclaveChannel(server.address) as channel,
        asyncio.timeout(GUARD_SECONDS),
    ):
        first = asyncio.create_task(channel.call("wait", {"n": 1}))
        second = asyncio.create_task(channel.call("wait", {"n": 2}))
        assert {await handler.entered.get(), await handler.entered.get()} == {1, 2}
        with pytest.raises(Overloaded, match="more than 2 requests in flight"):
            await channel.call("wait", {"n": 3})
        handler.gates[1].set()
        handler.gates[2].set()
        assert await first == {"n": 1}
        assert await second == {"n": 2}
        assert await channel.call("echo") == {"echo": {}}  # slots are free again


async def test_losing_the_server_fails_pending_calls_and_the_channel_reconnects(
    listen_address: Address,
) -> None:
    handler = Scripted()
    server = await serve(listen_address, handler)
    address = server.address  # the same port again for TCP
    async with EnclaveChannel(address) as channel, asyncio.timeout(GUARD_SECONDS):
        pending = [asyncio.create_task(channel.call("wait", {"n": n})) for n in range(3)]
        for _ in range(3):
            await handler.entered.get()
        await server.close()
        for call in pending:
            with pytest.raises(Unavailable, match="lost the connection"):
                await call
        assert sorted(handler.cancelled) == [0, 1, 2]  # closing the server cancelled its work
        with pytest.raises(Unavailable, match=f"cannot connect to the enclave at {address}"):
            await channel.call("echo")
        async with running(address, handler):
            assert await channel.call("echo", {"back": True}) == {"echo": {"back": True}}


async def test_connect_failure_is_unavailable_naming_the_address(listen_address: Address) -> None:
    async with EnclaveChannel(listen_address) as channel:
        with pytest.raises(Unavailable, match=f"cannot connect to the enclave at {listen_address}"):
            await channel.call("echo", timeout=GUARD_SECONDS)


async def test_closing_the_channel_fails_pending_and_later_calls(listen_address: Address) -> None:
    handler = Scripted()
    async with running(listen_address, handler) as server, asyncio.timeout(GUARD_SECONDS):
        channel = EnclaveChannel(server.address)
        pending = asyncio.create_task(channel.call("wait", {"n": 1}))
        await handler.entered.get()
        await channel.close()
        with pytest.raises(Unavailable, match="closed"):
            await pending
        with pytest.raises(Unavailable, match="closed"):
            await channel.call("echo")


async def test_vsock_channel_failure_is_unavailable() -> None:
    try:
        socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close()
    except OSError as exc:
        pytest.skip(f"cannot create an AF_VSOCK socket here: {exc.strerror}")
    address = VsockAddress(socket.VMADDR_CID_HOST, 4_000_000_000)  # nothing listens there
    async with EnclaveChannel(address) as channel:
        with pytest.raises(Unavailable, match="cannot connect to the enclave at vsock:2:4000000000"):
            await channel.call("echo", timeout=GUARD_SECONDS)


# ---- property tests against a server in its own thread ------------------------------------------------


async def echo_handler(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"method": method, "params": params}


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[UnixAddress]:
    directory = tempfile.mkdtemp(prefix="nw-")
    address = UnixAddress(os.path.join(directory, "p.sock"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="rpc-server")
    thread.start()
    try:
        server = asyncio.run_coroutine_threadsafe(serve(address, echo_handler), loop).result(GUARD_SECONDS)
        try:
            yield address
        finally:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(GUARD_SECONDS)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(GUARD_SECONDS)
        loop.close()
        shutil.rmtree(directory)


def connect(address: UnixAddress) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(GUARD_SECONDS)
    sock.connect(address.path)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_reply(sock: socket.socket) -> dict[str, Any]:
    (length,) = struct.unpack(">I", recv_exactly(sock, 4))
    reply = cbor2.loads(recv_exactly(sock, length))
    assert isinstance(reply, dict)
    return reply


def request_bytes(request_id: int, payload: bytes) -> bytes:
    return cbor2.dumps({"id": request_id, "method": "echo", "params": {"payload": payload}})


def never_a_request(body: bytes) -> bool:
    try:
        decoded = cbor2.loads(body)
    except Exception:  # any failure means it is not a request
        return True
    return not (isinstance(decoded, dict) and "method" in decoded)


@st.composite
def cut_requests(draw: st.DrawFn) -> bytes:
    body = request_bytes(1, draw(st.binary(max_size=32)))
    return body[: draw(st.integers(min_value=1, max_value=len(body) - 1))]


garbage_bodies = st.one_of(
    st.binary(min_size=1, max_size=48).filter(never_a_request),
    st.binary(max_size=32).map(lambda tail: b"\xff" + tail),
    cut_requests(),
    st.binary(min_size=1, max_size=8).map(lambda tail: request_bytes(1, b"x") + tail),
    st.sampled_from(
        [
            cbor2.dumps([1, "echo", {}]),
            cbor2.dumps({"id": 1}),
            cbor2.dumps({"id": 1, "result": {}}),
            cbor2.dumps({"id": None, "error": {"code": "x", "message": "m", "field": None}}),
            cbor2.dumps({"id": -1, "method": "echo", "params": {}}),
            cbor2.dumps({"id": True, "method": "echo", "params": {}}),
        ]
    ),
)
interleavings = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.binary(max_size=64)), st.tuples(st.just("garbage"), garbage_bodies)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=interleavings)
def test_valid_and_garbage_frames_interleaved_never_desynchronise(
    threaded_server: UnixAddress, items: list[tuple[str, bytes]]
) -> None:
    expected: dict[int, bytes] = {}
    stream = b""
    for index, (kind, data) in enumerate(items):
        if kind == "request":
            expected[1000 + index] = data
            stream += raw_frame(request_bytes(1000 + index, data))
        else:
            stream += raw_frame(data)
    with connect(threaded_server) as sock:
        sock.sendall(stream)
        replies = [recv_reply(sock) for _ in items]
        # ...and the stream is still in step afterwards.
        sock.sendall(raw_frame(request_bytes(1, b"after")))
        assert recv_reply(sock) == {"id": 1, "result": {"method": "echo", "params": {"payload": b"after"}}}
    results = {reply["id"]: reply["result"] for reply in replies if "result" in reply}
    assert results == {rid: {"method": "echo", "params": {"payload": data}} for rid, data in expected.items()}
    rejections = [reply for reply in replies if "error" in reply]
    assert len(rejections) == len(items) - len(expected)
    assert all(reply["id"] is None and reply["error"]["code"] == "bad_frame" for reply in rejections)


@st.composite
def truncated_streams(draw: st.DrawFn) -> tuple[str, bytes]:
    payloads = draw(st.lists(st.binary(max_size=40), min_size=1, max_size=3))
    stream = b"".join(raw_frame(request_bytes(7, payload)) for payload in payloads)
    return "cut", stream[: draw(st.integers(min_value=0, max_value=len(stream) - 1))]


oversized_headers = st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=2**32 - 1).map(
    lambda length: ("oversized", struct.pack(">I", length))
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attacks=st.lists(st.one_of(truncated_streams(), oversized_headers), min_size=1, max_size=4))
def test_truncated_streams_and_oversized_headers_never_hurt_the_server(
    threaded_server: UnixAddress, attacks: list[tuple[str, bytes]]
) -> None:
    for kind, data in attacks:
        with connect(threaded_server) as sock:
            sock.sendall(data)
            if kind == "oversized":
                reply = recv_reply(sock)
                assert reply["id"] is None
                assert reply["error"]["code"] == "frame_too_large"
            else:
                sock.shutdown(socket.SHUT_WR)
                while recv_exactly(sock, 4096):  # replies to any whole requests, then the close
                    pass
            assert recv_exactly(sock, 1) == b""  # the server closed this connection

    async def fresh_channel_works() -> None:
        async with EnclaveChannel(threaded_server) as channel:
            assert await channel.call("echo", {"p": b"\x00"}, timeout=GUARD_SECONDS) == {
                "method": "echo",
                "params": {"p": b"\x00"},
            }

    asyncio.run(fresh_channel_works())


async def test_connections_beyond_the_cap_are_closed_at_accept(listen_address: Address) -> None:
    handler = Scripted()
    async with running(listen_address, handler) as server, asyncio.timeout(GUARD_SECONDS):
        held = [await open_stream(server.address) for _ in range(MAX_CONNECTIONS)]
        for reader, writer in held:  # each is served: the server has registered all of them
            write_frame(writer, encode(Request(1, "echo", {})))
            assert isinstance(decode(await read_frame(reader)), Response)
        reader, writer = await open_stream(server.address)
        assert await reader.read() == b""  # one too many: closed without a word
        await close_stream(writer)
        await close_stream(held.pop()[1])
        async with EnclaveChannel(server.address) as channel:  # a freed place is usable again
            assert await channel.call("echo") == {"echo": {}}
        for _, held_writer in held:
            await close_stream(held_writer)

"""A closed-loop HTTP/1.1 load generator that leaves as much CPU as it can to the server it measures.

`measure` opens one persistent keep-alive connection per simulated client; each writes pre-built request
bytes, reads the answer (parsing only the status line and Content-Length) and at once sends the next.
It runs on uvloop, in a process of its own (`measure_in_process`), so the server, the baselines and the
generator share the machine's cores the same way in every run and the ratios stay fair.

Each run: `warmup` seconds unmeasured, then `seconds` in which every 200 response is counted and timed
(from writing the request to reading the whole answer); any other status is counted, by status, and its
first body kept. Some 200 bodies are kept with the requests they answer, for the caller to check.

Requests are shared by all connections, each taking the next in turn, unless the source deals them out in
`Lanes`: then connection i sends only lane i, in order, so the requests of one lane never overlap (one
validator's attestations, which the server must see in the order they were made).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, cast

import uvloop

MAX_SAMPLES = 16  # response bodies kept for the caller to check
SAMPLE_EVERY = 499  # keep the body of every this-many-th measured response
CONNECT_TIMEOUT_SECONDS = 10
GRACE_SECONDS = 30  # how long past the end of a run the last answers may take before it is abandoned
_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


@dataclass(frozen=True)
class Lanes:
    """Requests dealt out to the connections, one lane each (as many lanes as clients); each request is sent
    once, a connection whose lane runs out stops and marks the run `exhausted`."""

    lanes: Sequence[Sequence[bytes]]


class RequestSource(Protocol):
    def build(self, limit: int) -> Sequence[bytes] | Lanes:
        """The requests to send, in turn. One request means "send this one every time"; otherwise each is
        sent once, and the run ends early (`exhausted`) if the server answers more than `limit`."""
        ...


@dataclass(frozen=True)
class FixedRequest:
    request: bytes

    def build(self, limit: int) -> Sequence[bytes]:
        return [self.request]


def http_request(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request with a JSON body, as bytes ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Load:
    """Where to send requests, from how many connections, for how long."""

    host: str
    port: int
    clients: int
    warmup: float
    seconds: float
    limit: int  # the most requests a source that sends each request once is asked to build


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float]  # of the 200 responses read in the measured window, sorted, in seconds
    statuses: dict[int, int] = field(default_factory=dict)  # every response, warm-up included
    first_error: bytes | None = None  # the first non-200 response's body
    samples: list[bytes] = field(default_factory=list)  # some 200 bodies from the measured window
    sampled_requests: list[bytes] = field(default_factory=list)  # the request each sample answered
    exhausted: bool = False
    generator_cpu: float = 0.0  # the share of a core the generator used while measuring
    generator_total_cpu: float = 0.0  # CPU seconds of the generator process's whole life

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        return self.latencies[min(len(self.latencies) - 1, int(fraction * len(self.latencies)))]

    @property
    def failures(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


class _Run:
    """The state the connections share: the requests, the clock, what was measured."""

    def __init__(
        self, requests: Sequence[bytes] | Lanes, clients: int, warmup: float, seconds: float
    ) -> None:
        self.shared = not isinstance(requests, Lanes)  # every connection takes the next request of one list
        if isinstance(requests, Lanes) and len(requests.lanes) != clients:
            raise ValueError(f"{len(requests.lanes)} lanes for {clients} clients")
        self.lanes = requests.lanes if isinstance(requests, Lanes) else [requests]
        self.fixed = requests[0] if self.shared and len(requests) == 1 else None
        self.next_index = [0] * len(self.lanes)
        self.result = LoadResult(clients, seconds, [])
        self.warmup = warmup
        self.start = self.end = float("inf")
        self.cpu_start: float | None = None
        self.cpu_end: float | None = None
        self.running = clients
        self.done = asyncio.get_running_loop().create_future()

    def begin(self) -> None:
        self.start = time.perf_counter() + self.warmup
        self.end = self.start + self.result.seconds

    def next_request(self, connection: int) -> bytes | None:
        if self.fixed is not None:
            return self.fixed
        lane = 0 if self.shared else connection
        requests, index = self.lanes[lane], self.next_index[lane]
        if index == len(requests):
            self.result.exhausted = True
            return None
        self.next_index[lane] = index + 1
        return requests[index]

    def record(self, status: int, body: bytes, request: bytes, started: float, now: float) -> bool:
        """Count one response; whether its connection should send another request."""
        statuses = self.result.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if status != 200 and self.result.first_error is None:
            self.result.first_error = body
        if now < self.start:
            return True
        if now >= self.end:
            if self.cpu_end is None:
                self.cpu_end = time.process_time()
            return False
        if self.cpu_start is None:
            self.cpu_start = time.process_time()
        if status == 200:
            latencies = self.result.latencies
            latencies.append(now - started)
            if len(latencies) % SAMPLE_EVERY == 1 and len(self.result.samples) < MAX_SAMPLES:
                self.result.samples.append(body)
                self.result.sampled_requests.append(request)
        return True

    def finished(self, error: BaseException | None = None) -> None:
        self.running -= 1
        if self.done.done():
            return
        if error is not None:
            self.done.set_exception(error)
        elif self.running == 0:
            self.done.set_result(None)


class _Connection(asyncio.Protocol):
    """One client: a request in flight at a time, answers parsed just enough to find where they end."""

    def __init__(self, run: _Run, index: int) -> None:
        self.run = run
        self.index = index
        self.request = b""
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.expected = -1  # bytes of the whole response, once its head has been read
        self.body_start = 0
        self.status = 0
        self.started = 0.0
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def send(self) -> None:
        request = self.run.next_request(self.index)
        if request is None:
            self.stop()
            return
        assert self.transport is not None
        self.request = request
        self.started = time.perf_counter()
        self.transport.write(request)

    def stop(self) -> None:
        if self.open:
            self.open = False
            assert self.transport is not None
            self.transport.close()
            self.run.finished()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.expected < 0:
            head_end = buffer.find(_HEADER_END)
            if head_end < 0:
                return
            head = bytes(buffer[:head_end]).lower()
            self.status = int(head[9:12])
            at = head.find(_CONTENT_LENGTH)
            if at < 0:
                self.lost(ConnectionError("a response without Content-Length"))
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + len(_CONTENT_LENGTH) : line_end if line_end >= 0 else len(head)])
            self.expected = head_end + len(_HEADER_END) + length
            self.body_start = head_end + len(_HEADER_END)
        if len(buffer) < self.expected:
            return
        now = time.perf_counter()
        body = bytes(buffer[self.body_start : self.expected])
        del buffer[: self.expected]
        self.expected = -1
        if self.run.record(self.status, body, self.request, self.started, now):
            self.send()
        else:
            self.stop()

    def lost(self, error: BaseException) -> None:
        if self.open:
            self.open = False
            if self.transport is not None:
                self.transport.abort()
            self.run.finished(error)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open:
            self.lost(exc or ConnectionError("the server closed the connection during the run"))


async def _measure(load: Load, requests: Sequence[bytes] | Lanes) -> LoadResult:
    loop = asyncio.get_running_loop()
    run = _Run(requests, load.clients, load.warmup, load.seconds)
    connections: list[_Connection] = []

    def factory() -> _Connection:
        connection = _Connection(run, len(connections))
        connections.append(connection)
        return connection

    async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
        await asyncio.gather(
            *(loop.create_connection(factory, load.host, load.port) for _ in range(load.clients))
        )
    run.begin()
    for connection in connections:
        connection.send()
    try:
        async with asyncio.timeout(load.warmup + load.seconds + GRACE_SECONDS):
            await run.done
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.abort()
    if run.cpu_start is not None and run.cpu_end is not None:
        run.result.generator_cpu = (run.cpu_end - run.cpu_start) / load.seconds
    run.result.latencies.sort()
    return run.result


def measure(load: Load, source: RequestSource) -> LoadResult:
    """Run `load` with requests from `source` (in this process, on uvloop)."""
    requests = source.build(load.limit)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(_measure(load, requests))
    result.generator_total_cpu = time.process_time()
    return result


def measure_in_process(load: Load, source: RequestSource) -> LoadResult:
    """`measure` in a fresh process (spawned: nothing of the caller's state or threads comes along)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, load, source).result()

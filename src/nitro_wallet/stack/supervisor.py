"""Child processes of the local stack: started, awaited until ready, watched, and stopped in reverse order.

A child is ready when it prints its ready line on stdout (each program prints one once its socket accepts
connections). Its later stdout and its stderr pass through to ours, prefixed with its name.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


class ChildFailed(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    ready_line: str
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.exited = asyncio.Event()  # set when a child that is not restartable ends on its own

    async def start(
        self,
        name: str,
        argv: Sequence[str],
        ready: str,
        *,
        env: Mapping[str, str] | None = None,
        restartable: bool = False,
    ) -> Child:
        """Start a child and wait for its ready line. A restartable child's end does not set `exited`:
        its owner awaits `child.process.wait()`, then `forget`s it and starts another."""
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
        assert process.stdout is not None
        assert process.stderr is not None
        stderr_pump = asyncio.create_task(_relay(name, process.stderr))
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                line = await _wait_for(process.stdout, ready)
        except (TimeoutError, ChildFailed):
            await _stop(process)
            stderr_pump.cancel()
            raise ChildFailed(f"{name} did not become ready (exit status {process.returncode})") from None
        child = Child(name, process, line, [stderr_pump, asyncio.create_task(_relay(name, process.stdout))])
        self.children.append(child)
        if not restartable:
            asyncio.create_task(self._watch(child))  # noqa: RUF006 - the watcher ends with the child
        return child

    async def _watch(self, child: Child) -> None:
        await child.process.wait()
        self.exited.set()

    async def forget(self, child: Child) -> None:
        """Drop a child that has ended, once its output is relayed."""
        await child.process.wait()
        await asyncio.gather(*child.pumps, return_exceptions=True)
        self.children.remove(child)

    async def stop_all(self) -> None:
        for child in reversed(self.children):
            await _stop(child.process)
            for pump in child.pumps:
                pump.cancel()
            await asyncio.gather(*child.pumps, return_exceptions=True)
        self.children.clear()

    def exited_children(self) -> list[str]:
        return [
            f"{c.name} (exit status {c.process.returncode})"
            for c in self.children
            if c.process.returncode is not None
        ]


async def _wait_for(stream: asyncio.StreamReader, ready: str) -> str:
    while line := (await stream.readline()).decode(errors="replace"):
        if line.startswith(ready):
            return line.strip()
        sys.stdout.write(line)
    raise ChildFailed("exited before it was ready")


async def _relay(name: str, stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stderr.write(f"[{name}] {line.decode(errors='replace')}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()

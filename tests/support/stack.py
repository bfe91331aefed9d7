"""`nitro-wallet up` as a test fixture: started on a free port, its output read as it comes, SigV4 clients.

The output is drained by a thread into a list, so `up` never blocks on a full pipe and tests synchronise on
the lines it prints (its ready banner, "enclave back") instead of sleeping.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

READY = "Ready: "
WAIT_SECONDS = 90
STOP_SECONDS = 20


@dataclass(frozen=True)
class Signer:
    """Signs requests as the stack's `default` profile, with botocore (an independent SigV4 signer)."""

    credentials: Credentials
    region: str

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


class Up:
    def __init__(self, state_dir: Path, *extra: str) -> None:
        self.state_dir = state_dir
        argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(state_dir)]
        self.process = subprocess.Popen(
            [*argv, "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()
        ready = self.wait_for(READY)
        self.url = ready.split()[1].removesuffix("/upcheck")
        self.signer = _signer(state_dir)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, prefix: str, *, after: int = 0) -> str:
        """The first output line from index `after` on that starts with `prefix` (waits for it)."""

        def found() -> str | None:
            for line in self.lines[after:]:
                if line.startswith(prefix):
                    return line
            return "" if self.lines and self.lines[-1] == "" else None

        with self._changed:
            line = self._changed.wait_for(found, timeout=WAIT_SECONDS)
        if not line:
            raise AssertionError(f"`up` never printed {prefix!r}:\n{''.join(self.lines)[-4000:]}")
        return line

    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """A SigV4-signed request; `body` is sent as JSON (bytes and str as they are)."""
        url = self.url + path
        if body is None:
            content = b""
        elif isinstance(body, bytes | str):
            content = body.encode() if isinstance(body, str) else body
        else:
            content = httpx.Request("POST", url, json=body).content
        headers = self.signer.headers(method, url, content)
        return httpx.request(method, url, content=content, headers=headers, timeout=30, **kwargs)

    def kms_client(self, profile: str = "default") -> Any:
        """boto3's KMS client on the stack's emulator, as one of DIR/credentials' profiles."""
        state = json.loads((self.state_dir / "stack.json").read_text())
        credentials = configparser.ConfigParser()
        credentials.read(self.state_dir / "credentials")
        return boto3.session.Session().client(
            "kms",
            endpoint_url=f"http://127.0.0.1:{state['kms_port']}",
            region_name=self.signer.region,
            aws_access_key_id=credentials[profile]["aws_access_key_id"],
            aws_secret_access_key=credentials[profile]["aws_secret_access_key"],
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drain.join(STOP_SECONDS)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


@contextmanager
def running(state_dir: Path, *extra: str) -> Iterator[Up]:
    """`up` for a module's tests; it must stop cleanly (exit status 0) afterwards."""
    up = Up(state_dir, *extra)
    try:
        yield up
    finally:
        assert up.stop() == 0, up.output()[-3000:]


def _signer(state_dir: Path) -> Signer:
    credentials = configparser.ConfigParser()
    credentials.read(state_dir / "credentials")
    config = configparser.ConfigParser()
    config.read(state_dir / "config")
    default = credentials["default"]
    return Signer(
        Credentials(default["aws_access_key_id"], default["aws_secret_access_key"]),
        config["default"]["region"],
    )


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid`, by pid, with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def process_memory(pid: int) -> bytes:
    """Every readable private or heap/stack mapping of a process (the test process is its ancestor, so
    ptrace access mode allows reading /proc/PID/mem under Yama scope 1)."""
    chunks: list[bytes] = []
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            start, end = (int(value, 16) for value in fields[0].split("-"))
            if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            try:
                memory.seek(start)
                chunks.append(memory.read(end - start))
            except OSError:
                continue
    return b"".join(chunks)

"""Start the real programs (KMS emulator, enclave) as child processes and wait for their ready line.

Synchronisation is on the line each program prints once its socket accepts connections, never on sleeps.
stderr goes to a log file that a failure message quotes.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from nitro_wallet.enclave import measurement
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.stack import launch

STOP_TIMEOUT_SECONDS = 15
# One private bytecode cache for every enclave this test session starts (as `up` keeps one per state dir).
BYTECODE_CACHE = Path(tempfile.mkdtemp(prefix="nitro-wallet-test-enclave-pyc-"))
REGION = "us-east-1"


@dataclass
class Running:
    process: subprocess.Popen[str]
    ready_line: str
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start(argv: Sequence[str], ready: str, log: Path, *, env: dict[str, str] | None = None) -> Running:
    with log.open("w") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(ready):
            return Running(process, line.strip(), log)
    status = process.wait()
    process.stdout.close()
    raise RuntimeError(f"{argv[:4]} exited with {status} before it was ready:\n{log.read_text()[-3000:]}")


@contextmanager
def kms_emulator(state_dir: Path, *extra: str) -> Iterator[str]:
    """Run `nitro-wallet kms serve` on a free port; yields its URL."""
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "kms", "serve", "--state-dir", str(state_dir)]
    running = start([*argv, "--port", "0", *extra], "KMS emulator listening on", state_dir / "kms.log")
    try:
        yield running.ready_line.rsplit(" ", 1)[1]
    finally:
        running.stop()


def image(kms_endpoint: str, kms_key_arn: str, **extra: str) -> dict[str, str]:
    """The image config; `extra`: role, reference_kms_key_arn."""
    return measurement.image_config(
        kms_endpoint=kms_endpoint, kms_region=REGION, kms_key_arn=kms_key_arn, **extra
    )


@contextmanager
def enclave(
    state_dir: Path,
    kms_endpoint: str,
    kms_key_arn: str,
    *,
    debug: bool = False,
    source: Path | None = None,
    name: str = "enclave",
    **extra: str,
) -> Iterator[str]:
    """Run the enclave process on a Unix socket as `nitro-wallet up` does; yields its address.

    `source` runs the enclave from another copy of the source tree (a "rebuilt image"): the interpreter
    stays isolated, the copy is put first on sys.path explicitly. `extra` goes to the image config.
    """
    listen = f"unix:{state_dir / (name + '.sock')}"
    config = image(kms_endpoint, kms_key_arn, **extra)
    argv = launch.enclave_argv(
        listen, config, bytecode_cache=BYTECODE_CACHE, state_dir=state_dir, debug=debug
    )
    if source is not None:
        module = argv.index("-m")
        bootstrap = (
            f"import runpy, sys; sys.path.insert(0, {str(source)!r}); "
            f"runpy.run_module({launch.ENCLAVE_MODULE!r}, run_name='__main__')"
        )
        argv = [*argv[:module], "-c", bootstrap, *argv[module + 2 :]]
    running = start(argv, "enclave listening on", state_dir / f"{name}.log", env=launch.enclave_environment())
    try:
        yield listen
    finally:
        running.stop()


def profile(state_dir: Path, name: str) -> dict[str, str]:
    """A profile's keys from DIR/credentials, as the emulator wrote them."""
    credentials = configparser.ConfigParser()
    credentials.read(state_dir / "credentials")
    section = credentials[name]
    return {
        "access_key_id": section["aws_access_key_id"],
        "secret_access_key": section["aws_secret_access_key"],
    }


def kms_client(state_dir: Path, url: str, name: str = "default") -> Any:
    keys = profile(state_dir, name)
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=keys["access_key_id"],
        aws_secret_access_key=keys["secret_access_key"],
    )


async def prepare_enclave(address: str, state_dir: Path) -> None:
    """KMS credentials and a fresh data key, as `nitro-wallet up` gives a new enclave."""
    async with EnclaveChannel(address) as channel:
        client = EnclaveClient(channel)
        await client.set_kms_credentials(**profile(state_dir, "enclave"))
        await client.generate_data_key()

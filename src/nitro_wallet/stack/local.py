"""`nitro-wallet up`: the whole local stack on one machine, as the production layout runs on a Nitro host.

    KMS emulator (child) <── host proxy (this process, like vsock-proxy) <── enclave (child, emulated NSM)
                                                                                ▲
                                              this process (host) ── RPC ───────┘

First run: choose ports, create the KMS key (administration only), measure the enclave image, whose
configuration names that key and the KMS endpoint it reaches through the proxy, then pin the key policy
to that PCR0 and have the enclave generate its data key (KMS answers in CMS only the enclave can open);
the host keeps the data key's KMS ciphertext. Later runs reuse all of it: since the configuration is
measured, the ports and the key are chosen once and kept.
"""

from __future__ import annotations

import asyncio
import base64
import configparser
import json
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.proxy import TcpProxy, Upstream
from nitro_wallet.kms_emulator import principals
from nitro_wallet.stack import launch
from nitro_wallet.stack.supervisor import ChildFailed, Supervisor
from nitro_wallet.transport.address import TcpAddress
from nitro_wallet.wire.errors import KmsDenied, NitroWalletError

STATE_FILE = "stack.json"
KEY_ALIAS = "alias/nitro-wallet"
LOOPBACK = "127.0.0.1"


@dataclass
class StackState:
    """What a second `up` must find again. Holds ciphertexts and names only, never a key."""

    region: str
    kms_port: int
    kms_proxy_port: int
    kms_key_arn: str | None = None
    policy_pcr0: str | None = None  # the PCR0 the key policy was pinned to
    data_key_blob: str | None = None  # base64 KMS ciphertext of the enclave's data key

    @classmethod
    def load_or_create(cls, state_dir: Path, region: str) -> StackState:
        path = state_dir / STATE_FILE
        if path.exists():
            return cls(**json.loads(path.read_text()))
        return cls(region=region, kms_port=_free_port(), kms_proxy_port=_free_port())

    def save(self, state_dir: Path) -> None:
        staging = state_dir / f".{STATE_FILE}.tmp"
        staging.write_text(json.dumps(asdict(self), indent=2))
        staging.replace(state_dir / STATE_FILE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _kms(state_dir: Path, url: str, region: str, profile: str) -> Any:
    credentials = _profile(state_dir, profile)
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
    )


def _profile(state_dir: Path, name: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(state_dir / principals.CREDENTIALS_FILE)
    return {
        "access_key_id": parser[name]["aws_access_key_id"],
        "secret_access_key": parser[name]["aws_secret_access_key"],
    }


def ensure_key(state: StackState, state_dir: Path, kms_url: str) -> str:
    """The stack's KMS key (its ARN), created on first run with an administration-only policy."""
    admin = _kms(state_dir, kms_url, state.region, "default")
    if state.kms_key_arn is None:
        policy = json.dumps(key_policy.admin_policy())
        metadata = admin.create_key(Policy=policy, Description="nitro-wallet local stack")["KeyMetadata"]
        state.kms_key_arn = str(metadata["Arn"])
        state.save(state_dir)  # at once: an interrupted first run must not orphan the key
    aliases = admin.list_aliases(KeyId=state.kms_key_arn)["Aliases"]
    if KEY_ALIAS not in {alias["AliasName"] for alias in aliases}:
        admin.create_alias(AliasName=KEY_ALIAS, TargetKeyId=state.kms_key_arn)
    return state.kms_key_arn


def pin_policy(state: StackState, state_dir: Path, kms_url: str, pcr0: bytes) -> None:
    """On first run, release the key to this enclave image only. Later images need an administrator."""
    if state.policy_pcr0 is not None:
        return
    admin = _kms(state_dir, kms_url, state.region, "default")
    policy = json.dumps(key_policy.key_policy(pcr0=pcr0.hex()))
    admin.put_key_policy(KeyId=state.kms_key_arn, PolicyName="default", Policy=policy)
    state.policy_pcr0 = pcr0.hex()
    state.save(state_dir)
    print(f"KMS key {state.kms_key_arn} ({KEY_ALIAS}) released only to PCR0 {pcr0.hex()[:16]}…")


async def bootstrap_data_key(client: EnclaveClient, state: StackState, state_dir: Path) -> str:
    """Load the enclave's data key (or generate it on first run); returns a one-line description."""
    if state.data_key_blob is None:
        info = await client.generate_data_key()
        state.data_key_blob = base64.b64encode(info.ciphertext_blob).decode()
        state.save(state_dir)
        verb = "generated"
    else:
        info = await client.load_data_key(base64.b64decode(state.data_key_blob))
        verb = "loaded"
    return f"data key {info.key_ref} {verb} inside the enclave (check value {info.check_value.hex()})"


def _measurement_changed(pcr0: bytes) -> str:
    return (
        "The enclave was refused its data key: its measurement (PCR0) no longer matches the KMS key policy.\n"
        f"This enclave's PCR0 is {pcr0.hex()}.\n"
        "That is what happens in production after rebuilding the enclave image: an administrator must\n"
        "approve the new image by updating the key policy (e.g. `nitro-wallet kms key-policy --pcr0 ...`\n"
        "then `aws kms put-key-policy`), or start afresh with another --state-dir."
    )


class LocalStack:
    """One `up`: the children, the proxy between them, and the order in which they start and stop."""

    def __init__(self, state_dir: Path, state: StackState) -> None:
        self.state_dir = state_dir
        self.state = state
        self.supervisor = Supervisor()
        self.kms_url = f"http://{LOOPBACK}:{state.kms_port}"
        self.enclave_address = f"unix:{state_dir / 'enclave.sock'}"
        upstream = Upstream(LOOPBACK, state.kms_port)
        self.proxy = TcpProxy(TcpAddress(LOOPBACK, state.kms_proxy_port), upstream, allowlist=[upstream])

    def image_config(self) -> dict[str, str]:
        """The enclave image's measured configuration: it reaches KMS only through the host's proxy."""
        assert self.state.kms_key_arn is not None
        return measurement.image_config(
            kms_endpoint=self.proxy.url, kms_region=self.state.region, kms_key_arn=self.state.kms_key_arn
        )

    async def start_kms(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "nitro_wallet.cli.main",
            "kms",
            "serve",
            "--state-dir",
            str(self.state_dir),
        ]
        argv += ["--port", str(self.state.kms_port), "--region", self.state.region]
        await self.supervisor.start("kms", argv, ready="KMS emulator listening on")
        await self.proxy.start()

    async def start_enclave(self) -> None:
        argv = launch.enclave_argv(
            self.enclave_address,
            self.image_config(),
            bytecode_cache=self.state_dir / launch.BYTECODE_CACHE,
            state_dir=self.state_dir,
        )
        await self.supervisor.start(
            "enclave", argv, ready="enclave listening on", env=launch.enclave_environment()
        )

    async def stop(self) -> None:
        await self.supervisor.stop_all()
        await self.proxy.close()


async def run(state_dir: Path, *, region: str = principals.DEFAULT_REGION) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    state = StackState.load_or_create(state_dir, region)
    state.save(state_dir)
    stack = LocalStack(state_dir, state)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stack.start_kms()
        await asyncio.to_thread(ensure_key, state, state_dir, stack.kms_url)
        pcr0 = measurement.measure(stack.image_config()).pcr0
        await asyncio.to_thread(pin_policy, state, state_dir, stack.kms_url, pcr0)
        await stack.start_enclave()
        async with EnclaveChannel(stack.enclave_address) as channel:
            client = EnclaveClient(channel)
            await client.set_kms_credentials(**_profile(state_dir, "enclave"))
            try:
                data_key = await bootstrap_data_key(client, state, state_dir)
            except KmsDenied:
                print(_measurement_changed(pcr0), file=sys.stderr)
                return 1
            _print_ready(stack, pcr0=pcr0, data_key=data_key)
            await _until_stopped(stop, stack.supervisor)
    except (ChildFailed, NitroWalletError, ClientError) as exc:
        print(f"nitro-wallet up: {exc}", file=sys.stderr)
        return 1
    finally:
        await stack.stop()
    return 0 if not stack.supervisor.exited_children() else 1


async def _until_stopped(stop: asyncio.Event, supervisor: Supervisor) -> None:
    stopped = asyncio.create_task(stop.wait())
    exited = asyncio.create_task(supervisor.exited.wait())
    await asyncio.wait({stopped, exited}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stopped, exited):
        task.cancel()
    if supervisor.exited.is_set():
        print(
            f"nitro-wallet up: stopping, a child ended: {', '.join(supervisor.exited_children())}",
            file=sys.stderr,
        )
    else:
        print("nitro-wallet up: stopping")


def _print_ready(stack: LocalStack, *, pcr0: bytes, data_key: str) -> None:
    state_dir, state, kms_url, enclave = stack.state_dir, stack.state, stack.kms_url, stack.enclave_address
    print(
        f"""
nitro-wallet local stack is up (state: {state_dir})
  enclave      {enclave}  (emulated NSM, PCR0 {pcr0.hex()[:16]}…)
  KMS          {kms_url}  (emulator; key {KEY_ALIAS})
  key ARN      {state.kms_key_arn}
  {data_key}

Try, in another terminal:
  nitro-wallet enclave describe --connect {enclave}
  nitro-wallet enclave attest --connect {enclave} --out /tmp/attestation.cbor
  nitro-wallet attestation verify /tmp/attestation.cbor --root dev --state-dir {state_dir} \\
      --expect-pcr 0={pcr0.hex()}
  # any AWS SDK or CLI reaches the KMS emulator with
  #   AWS_SHARED_CREDENTIALS_FILE={state_dir}/credentials AWS_CONFIG_FILE={state_dir}/config

Ctrl-C stops everything.""",
        flush=True,
    )

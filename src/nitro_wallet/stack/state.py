"""The local stack's own state and its KMS setup: what a second `up` must find again (DIR/stack.json: ports,
the KMS key, the PCR0s the key policy is pinned to, the data key's KMS ciphertext; never a key), and the
first run's steps that create them: the KMS key (administration only), the policy pinned to the measured
enclave image(s), the enclave's data key."""

from __future__ import annotations

import base64
import configparser
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

from nitro_wallet.host import key_policy
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.kms_emulator import principals
from nitro_wallet.stack.banner import KEY_ALIAS

STATE_FILE = "stack.json"
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
    split_roles: bool = False  # a generator and a signer enclave, fixed when the state is created
    generator_pcr0: str | None = None  # split roles: the PCR0 the generator's statement is pinned to

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


def _kms(state_dir: Path, url: str, region: str, name: str) -> Any:
    credentials = profile(state_dir, name)
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
    )


def profile(state_dir: Path, name: str) -> dict[str, str]:
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


def pin_policy(
    state: StackState, state_dir: Path, kms_url: str, pcr0: bytes, generator_pcr0: bytes | None = None
) -> None:
    """On first run, release the key to this enclave image only (with split roles, let the generator's
    image only generate wallet-key data keys). Later images need an administrator."""
    if state.policy_pcr0 is not None:
        return
    admin = _kms(state_dir, kms_url, state.region, "default")
    if generator_pcr0 is None:
        policy = key_policy.key_policy(pcr0=pcr0.hex())
    else:
        policy = key_policy.key_policy(
            pcr0=pcr0.hex(), generator_pcr0=generator_pcr0.hex(), encrypt_principal=None
        )
        state.generator_pcr0 = generator_pcr0.hex()
    admin.put_key_policy(KeyId=state.kms_key_arn, PolicyName="default", Policy=json.dumps(policy))
    state.policy_pcr0 = pcr0.hex()
    state.save(state_dir)
    print(f"KMS key {state.kms_key_arn} ({KEY_ALIAS}) released only to PCR0 {pcr0.hex()[:16]}…")
    if generator_pcr0 is not None:
        print(f"  the generator (PCR0 {generator_pcr0.hex()[:16]}…) may only generate wallet-key data keys")


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


def measurement_changed(pcr0: bytes) -> str:
    return (
        "The enclave was refused its data key: its measurement (PCR0) no longer matches the KMS key policy.\n"
        f"This enclave's PCR0 is {pcr0.hex()}.\n"
        "That is what happens in production after rebuilding the enclave image: an administrator must\n"
        "approve the new image by updating the key policy (e.g. `nitro-wallet kms key-policy --pcr0 ...`\n"
        "then `aws kms put-key-policy`), or start afresh with another --state-dir."
    )

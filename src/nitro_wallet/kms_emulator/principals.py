"""The emulator's callers: each profile in `DIR/credentials` is a principal with an IAM ARN.

`default` administers keys; `enclave` is the role the enclave (the signer) calls KMS with; `generator` is the
key-generator role of the split-role layout (may encrypt, never decrypt). Key policies name these ARNs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nitro_wallet.kms_emulator.store import KmsStore, Principal

LOCAL_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"
PROFILES = {
    "default": f"arn:aws:iam::{LOCAL_ACCOUNT}:user/nitro-wallet-admin",
    "enclave": f"arn:aws:iam::{LOCAL_ACCOUNT}:role/nitro-wallet-enclave",
    "generator": f"arn:aws:iam::{LOCAL_ACCOUNT}:role/nitro-wallet-generator",
}
CREDENTIALS_FILE = "credentials"
CONFIG_FILE = "config"


def ensure_principals(store: KmsStore) -> list[Principal]:
    return [store.ensure_principal(profile, arn) for profile, arn in PROFILES.items()]


def _write_private(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    staging.replace(path)


def write_shared_files(state_dir: Path, principals: Iterable[Principal], region: str) -> None:
    """`DIR/credentials` and `DIR/config` in the AWS shared-file formats, so any SDK or CLI can sign."""
    credentials: list[str] = []
    config: list[str] = []
    for principal in principals:
        credentials += [
            f"[{principal.profile}]",
            f"aws_access_key_id = {principal.access_key_id}",
            f"aws_secret_access_key = {principal.secret_access_key}",
            "",
        ]
        section = "default" if principal.profile == "default" else f"profile {principal.profile}"
        config += [f"[{section}]", f"region = {region}", ""]
    _write_private(state_dir / CREDENTIALS_FILE, "\n".join(credentials))
    _write_private(state_dir / CONFIG_FILE, "\n".join(config))

"""The AWS reference's KMS key beside ours, for migration tests: its policy shaped like the reference's own
(its administrator may do anything; the enclave role may Decrypt when attested with a given PCR0, which an
operator adds to migrate), our enclave configured with it, and ciphertexts as the reference stored them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from support import processes


@dataclass(frozen=True)
class Migration:
    state_dir: Path
    kms_url: str
    reference_key: str  # the reference's KMS key (ARN)
    enclave: str  # our enclave's address, configured with that key
    pcr0: bytes  # our enclave's


def reference_policy(pcr0: bytes | None) -> str:
    """The reference's key policy shape; with `pcr0`, the enclave role may Decrypt when attested with it."""
    statements: list[dict[str, object]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": key_policy.DEFAULT_ADMIN_PRINCIPAL},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if pcr0 is not None:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": key_policy.DEFAULT_ENCLAVE_PRINCIPAL},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEqualsIgnoreCase": {key_policy.IMAGE_SHA384_KEY: pcr0.hex()}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@contextmanager
def migrating_enclave(state_dir: Path, kms_url: str, *, name: str = "migrating") -> Iterator[Migration]:
    """Our KMS key and the reference's, and our enclave (with its data key) configured with the latter."""
    admin = processes.kms_client(state_dir, kms_url)
    ours: str = admin.create_key(Policy=json.dumps(key_policy.admin_policy()))["KeyMetadata"]["Arn"]
    reference: str = admin.create_key(Policy=reference_policy(None))["KeyMetadata"]["Arn"]
    pcr0 = measurement.measure(processes.image(kms_url, ours, reference_kms_key_arn=reference)).pcr0
    policy = json.dumps(key_policy.key_policy(pcr0=pcr0.hex()))
    admin.put_key_policy(KeyId=ours, PolicyName="default", Policy=policy)
    admin.put_key_policy(KeyId=reference, PolicyName="default", Policy=reference_policy(pcr0))
    with processes.enclave(state_dir, kms_url, ours, name=name, reference_kms_key_arn=reference) as address:
        asyncio.run(processes.prepare_enclave(address, state_dir))
        yield Migration(state_dir, kms_url, reference, address, pcr0)


def reference_ciphertext(migration: Migration, plaintext: object, *, key: str | None = None) -> bytes:
    """What the reference's key generator stored: KMS Encrypt of its JSON, no encryption context."""
    admin = processes.kms_client(migration.state_dir, migration.kms_url)
    answer = admin.encrypt(KeyId=key or migration.reference_key, Plaintext=json.dumps(plaintext).encode())
    blob: bytes = answer["CiphertextBlob"]
    return blob

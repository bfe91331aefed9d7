"""What every KMS operation shares: naming keys, finding them, authorizing the caller against the key's
policy, and sealing or opening ciphertext blobs. Requests with a `Recipient` are attested here: the
document is verified against the trust roots and its PCRs feed the policy's `kms:RecipientAttestation:*`
conditions.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509

from nitro_wallet.kms_emulator import attested, ciphertext, errors, policy
from nitro_wallet.kms_emulator.inputs import Input
from nitro_wallet.kms_emulator.store import KeyRecord, KmsStore, Principal

SYMMETRIC = "SYMMETRIC_DEFAULT"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@lru_cache(maxsize=256)
def parsed_policy(text: str) -> policy.KeyPolicy:
    return policy.parse_policy(text)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class RecipientCheck:
    """What the request's Recipient amounted to: absent, verified, or present but invalid (with why)."""

    present: bool
    recipient: attested.Recipient | None = None
    reason: str | None = None


class KeyAccess:
    def __init__(
        self, store: KmsStore, *, region: str, account_id: str, trust_roots: Sequence[x509.Certificate]
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.trust_roots = tuple(trust_roots)

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}"

    def alias_arn(self, name: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:{name}"

    def _resolve(self, ref: str, *, aliases: bool = True) -> KeyRecord:
        prefix = f"arn:aws:kms:{self.region}:{self.account_id}:"
        is_arn = ref.startswith(prefix)
        local = ref.removeprefix(prefix)
        key_id = local.removeprefix("key/") if is_arn else local  # "key/<id>" only inside a key ARN
        if local.startswith("alias/") and aliases:
            target = self.store.alias_target(local)
            if target is None:
                raise errors.not_found(f"Alias {self.alias_arn(local)} is not found.")
            key_id = target
        elif not UUID_TEXT.fullmatch(key_id) or (is_arn and not local.startswith("key/")):
            raise errors.not_found(f"Invalid keyId '{ref}'")
        record = self.store.get_key(key_id)
        if record is None:
            raise errors.not_found(f"Key '{self.key_arn(key_id)}' does not exist")
        return record

    def _authorize(
        self,
        key: KeyRecord,
        action: str,
        caller: Principal,
        *,
        check: RecipientCheck | None = None,
        context: Mapping[str, str] | None = None,
    ) -> None:
        request = policy.RequestContext(
            action=action,
            principal_arn=caller.arn,
            account_id=self.account_id,
            attestation_pcrs=check.recipient.pcrs if check and check.recipient else None,
            encryption_context=dict(context or {}),
        )
        decision = policy.evaluate(parsed_policy(key.policy), request)
        if decision is not policy.Decision.ALLOW:
            why = (
                "with an explicit deny in a resource-based policy"
                if decision is policy.Decision.EXPLICIT_DENY
                else f"because no resource-based policy allows the {action} action"
            )
            raise errors.access_denied(
                f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                f"{self.key_arn(key.key_id)} {why}"
            )
        if check and check.present and check.recipient is None:
            raise errors.validation(f"The attestation document in Recipient is not valid: {check.reason}")

    def _usable(self, key: KeyRecord) -> KeyRecord:
        if not key.enabled:
            raise errors.disabled(f"{self.key_arn(key.key_id)} is disabled.")
        return key

    def _check_recipient(self, request: Input) -> RecipientCheck:
        document = request.recipient()
        if document is None:
            return RecipientCheck(present=False)
        try:
            return RecipientCheck(present=True, recipient=attested.check(document, self.trust_roots))
        except attested.InvalidRecipient as exc:
            return RecipientCheck(present=True, reason=str(exc))

    def _metadata(self, key: KeyRecord) -> dict[str, Any]:
        return {
            "AWSAccountId": self.account_id,
            "KeyId": key.key_id,
            "Arn": self.key_arn(key.key_id),
            "CreationDate": key.created,
            "Enabled": key.enabled,
            "Description": key.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled" if key.enabled else "Disabled",
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": SYMMETRIC,
            "KeySpec": SYMMETRIC,
            "EncryptionAlgorithms": [SYMMETRIC],
            "MultiRegion": False,
        }

    def _seal(self, key: KeyRecord, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        header = ciphertext.BlobHeader(key.key_id, key.current_version)
        material = self.store.material(key.key_id, key.current_version)
        assert material is not None
        return ciphertext.seal(header, material, plaintext, context)

    def _open(self, blob: bytes, key_ref: str | None) -> tuple[KeyRecord, ciphertext.BlobHeader]:
        """The key a blob names (checked against `key_ref` when given), without decrypting it yet."""
        try:
            header = ciphertext.read_header(blob)
        except ciphertext.BlobError:
            raise errors.invalid_ciphertext() from None
        key = self.store.get_key(header.key_id)
        if key is None:
            raise errors.invalid_ciphertext()
        if key_ref is not None and self._resolve(key_ref).key_id != key.key_id:
            raise errors.incorrect_key(
                "The key ID in the request does not identify the key that encrypted the ciphertext"
            )
        return key, header

    def _plaintext(self, blob: bytes, header: ciphertext.BlobHeader, context: Mapping[str, str]) -> bytes:
        material = self.store.material(header.key_id, header.key_version)
        if material is None:
            raise errors.invalid_ciphertext()
        try:
            return ciphertext.open_blob(blob, material, context)
        except ciphertext.BlobError:
            raise errors.invalid_ciphertext() from None

"""The KMS operations the emulator serves, with KMS's inputs, outputs, key-policy checks and errors.

Every operation on a key is authorized by the key's policy (see `policy.py`). Requests with a `Recipient`
are attested: the document is verified against the configured trust roots, its PCRs feed the policy's
`kms:RecipientAttestation:*` conditions, and the answer is `CiphertextForRecipient` (CMS to the document's
RSA key) instead of plaintext.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509

from nitro_wallet.kms_emulator import attested, ciphertext, errors, policy
from nitro_wallet.kms_emulator.inputs import Input
from nitro_wallet.kms_emulator.recipient import encrypt_for_recipient
from nitro_wallet.kms_emulator.store import AliasExists, KeyRecord, KmsStore, Principal

SYMMETRIC = "SYMMETRIC_DEFAULT"
DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}
MAX_DATA_KEY_BYTES = 1024
MAX_RANDOM_BYTES = 1024
MAX_DESCRIPTION_CHARS = 8192
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100
ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Operation = Callable[[Input, Principal], dict[str, Any]]


@lru_cache(maxsize=256)
def _parsed_policy(text: str) -> policy.KeyPolicy:
    return policy.parse_policy(text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class RecipientCheck:
    """What the request's Recipient amounted to: absent, verified, or present but invalid (with why)."""

    present: bool
    recipient: attested.Recipient | None = None
    reason: str | None = None


class KmsService:
    def __init__(
        self, store: KmsStore, *, region: str, account_id: str, trust_roots: Sequence[x509.Certificate]
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.trust_roots = tuple(trust_roots)
        self.operations: dict[str, Operation] = {
            "CreateKey": self.create_key,
            "DescribeKey": self.describe_key,
            "ListKeys": self.list_keys,
            "EnableKey": self.enable_key,
            "DisableKey": self.disable_key,
            "CreateAlias": self.create_alias,
            "ListAliases": self.list_aliases,
            "Encrypt": self.encrypt,
            "Decrypt": self.decrypt,
            "ReEncrypt": self.re_encrypt,
            "GenerateDataKey": self.generate_data_key,
            "GenerateDataKeyWithoutPlaintext": self.generate_data_key_without_plaintext,
            "GenerateRandom": self.generate_random,
            "GetKeyPolicy": self.get_key_policy,
            "PutKeyPolicy": self.put_key_policy,
            "EnableKeyRotation": self.enable_key_rotation,
            "DisableKeyRotation": self.disable_key_rotation,
            "GetKeyRotationStatus": self.get_key_rotation_status,
            "RotateKeyOnDemand": self.rotate_key_on_demand,
        }

    def handle(self, operation: str, body: Mapping[str, object], caller: Principal) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise errors.KmsException("UnknownOperationException", f"unknown operation {operation}")
        return handler(Input(body), caller)

    # names and lookups

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}"

    def alias_arn(self, name: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:{name}"

    def _resolve(self, ref: str, *, aliases: bool = True) -> KeyRecord:
        prefix = f"arn:aws:kms:{self.region}:{self.account_id}:"
        local = ref.removeprefix(prefix) if ref.startswith(prefix) else ref
        key_id = local.removeprefix("key/") if local.startswith("key/") else local
        if local.startswith("alias/") and aliases:
            target = self.store.alias_target(local)
            if target is None:
                raise errors.not_found(f"Alias {self.alias_arn(local)} is not found.")
            key_id = target
        elif local.startswith("arn:") or not UUID_TEXT.fullmatch(key_id):
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
        decision = policy.evaluate(_parsed_policy(key.policy), request)
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

    def _new_policy(self, request: Input, caller: Principal, *, required: bool) -> str | None:
        text = request.string("Policy", required=required, max_chars=policy.MAX_POLICY_BYTES)
        if text is None:
            return None
        try:
            parsed = policy.parse_policy(text)
        except policy.MalformedPolicy as exc:
            raise errors.malformed_policy(str(exc)) from None
        if not request.boolean("BypassPolicyLockoutSafetyCheck"):
            lockout = policy.RequestContext("kms:PutKeyPolicy", caller.arn, self.account_id, None, {})
            if policy.evaluate(parsed, lockout) is not policy.Decision.ALLOW:
                raise errors.malformed_policy(
                    "The new key policy will not allow you to update the key policy in the future."
                )
        return text

    def default_policy(self) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Id": "key-default-1",
                "Statement": [
                    {
                        "Sid": "Enable IAM User Permissions",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{self.account_id}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        )

    # key management

    def create_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        request.choice("KeyUsage", ("ENCRYPT_DECRYPT",))
        request.choice("KeySpec", (SYMMETRIC,))
        request.choice("CustomerMasterKeySpec", (SYMMETRIC,))
        request.choice("Origin", ("AWS_KMS",))
        if request.boolean("MultiRegion"):
            raise errors.unsupported("The emulator does not create multi-Region keys")
        description = self._description(request)
        text = self._new_policy(request, caller, required=False) or self.default_policy()
        return {"KeyMetadata": self._metadata(self.store.create_key(description, text))}

    @staticmethod
    def _description(request: Input) -> str:
        value = request.body.get("Description", "")
        if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
            raise errors.validation(
                f"Description must be a string of at most {MAX_DESCRIPTION_CHARS} characters"
            )
        return value

    def describe_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        self._authorize(key, "kms:DescribeKey", caller)
        return {"KeyMetadata": self._metadata(key)}

    def list_keys(self, request: Input, caller: Principal) -> dict[str, Any]:
        rows = [{"KeyId": k.key_id, "KeyArn": self.key_arn(k.key_id)} for k in self.store.list_keys()]
        return self._page(request, rows, "Keys")

    def _page(self, request: Input, rows: list[dict[str, Any]], field: str) -> dict[str, Any]:
        limit = request.integer("Limit", 1, MAX_LIST_LIMIT) or DEFAULT_LIST_LIMIT
        marker = request.string("Marker", max_chars=1024)
        start = 0
        if marker is not None:
            # str.isdigit() alone also accepts digits such as "²" that int() refuses
            if not (marker.isascii() and marker.isdigit()):
                raise errors.KmsException("InvalidMarkerException", "The marker is not valid")
            start = int(marker)
        page = rows[start : start + limit]
        answer: dict[str, Any] = {field: page, "Truncated": start + limit < len(rows)}
        if answer["Truncated"]:
            answer["NextMarker"] = str(start + limit)
        return answer

    def enable_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:EnableKey", caller)
        self.store.set_enabled(key.key_id, True)
        return {}

    def disable_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:DisableKey", caller)
        self.store.set_enabled(key.key_id, False)
        return {}

    def create_alias(self, request: Input, caller: Principal) -> dict[str, Any]:
        name = request.required_string("AliasName", max_chars=256)
        if not ALIAS_NAME.fullmatch(name) or name.startswith("alias/aws/"):
            raise errors.validation(f"Alias must match {ALIAS_NAME.pattern} and not begin with alias/aws/")
        key = self._resolve(request.required_string("TargetKeyId"), aliases=False)
        self._authorize(key, "kms:CreateAlias", caller)
        try:
            self.store.create_alias(name, key.key_id)
        except AliasExists:
            raise errors.already_exists(
                f"An alias with the name {self.alias_arn(name)} already exists"
            ) from None
        return {}

    def list_aliases(self, request: Input, caller: Principal) -> dict[str, Any]:
        key_ref = request.string("KeyId")
        only = self._resolve(key_ref, aliases=False).key_id if key_ref else None
        rows = [
            {
                "AliasName": name,
                "AliasArn": self.alias_arn(name),
                "TargetKeyId": key_id,
                "CreationDate": created,
            }
            for name, key_id, created in self.store.list_aliases()
            if only is None or key_id == only
        ]
        return self._page(request, rows, "Aliases")

    def get_key_policy(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._policy_name(request)
        self._authorize(key, "kms:GetKeyPolicy", caller)
        return {"Policy": key.policy, "PolicyName": "default"}

    def put_key_policy(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._policy_name(request)
        self._authorize(key, "kms:PutKeyPolicy", caller)
        text = self._new_policy(request, caller, required=True)
        assert text is not None
        self.store.set_policy(key.key_id, text)
        return {}

    @staticmethod
    def _policy_name(request: Input) -> None:
        name = request.string("PolicyName", max_chars=128)
        if name not in (None, "default"):
            raise errors.not_found("The only valid key policy name is 'default'")

    def enable_key_rotation(self, request: Input, caller: Principal) -> dict[str, Any]:
        return self._set_rotation(request, caller, enabled=True)

    def disable_key_rotation(self, request: Input, caller: Principal) -> dict[str, Any]:
        return self._set_rotation(request, caller, enabled=False)

    def _set_rotation(self, request: Input, caller: Principal, *, enabled: bool) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        action = "kms:EnableKeyRotation" if enabled else "kms:DisableKeyRotation"
        self._authorize(key, action, caller)
        self.store.set_rotation(self._usable(key).key_id, enabled)
        return {}

    def get_key_rotation_status(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:GetKeyRotationStatus", caller)
        return {"KeyRotationEnabled": key.rotation_enabled, "KeyId": self.key_arn(key.key_id)}

    def rotate_key_on_demand(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:RotateKeyOnDemand", caller)
        self.store.rotate(self._usable(key).key_id)
        return {"KeyId": key.key_id}

    # cryptographic operations

    def encrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        plaintext = request.required_blob("Plaintext", max_bytes=ciphertext.MAX_PLAINTEXT_BYTES)
        context = request.context()
        request.choice("EncryptionAlgorithm", (SYMMETRIC,))
        self._authorize(key, "kms:Encrypt", caller, context=context)
        blob = self._seal(self._usable(key), plaintext, context)
        return {
            "CiphertextBlob": _b64(blob),
            "KeyId": self.key_arn(key.key_id),
            "EncryptionAlgorithm": SYMMETRIC,
        }

    def decrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        blob = request.required_blob("CiphertextBlob", max_bytes=ciphertext.MAX_BLOB_BYTES)
        context = request.context()
        request.choice("EncryptionAlgorithm", (SYMMETRIC,))
        key, header = self._open(blob, request.string("KeyId"))
        check = self._check_recipient(request)
        self._authorize(key, "kms:Decrypt", caller, check=check, context=context)
        self._usable(key)
        plaintext = self._plaintext(blob, header, context)
        answer = {"KeyId": self.key_arn(key.key_id), "EncryptionAlgorithm": SYMMETRIC}
        return answer | self._release(plaintext, check, "Plaintext")

    @staticmethod
    def _release(plaintext: bytes, check: RecipientCheck, field: str) -> dict[str, Any]:
        """Plaintext for an ordinary caller; CMS to the enclave's key for an attested one."""
        if check.recipient is not None:
            return {
                "CiphertextForRecipient": _b64(encrypt_for_recipient(plaintext, check.recipient.public_key))
            }
        return {field: _b64(plaintext)}

    def re_encrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        blob = request.required_blob("CiphertextBlob", max_bytes=ciphertext.MAX_BLOB_BYTES)
        source_context = request.context("SourceEncryptionContext")
        destination_context = request.context("DestinationEncryptionContext")
        destination = self._resolve(request.required_string("DestinationKeyId"))
        for name in ("SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"):
            request.choice(name, (SYMMETRIC,))
        source, header = self._open(blob, request.string("SourceKeyId"))
        self._authorize(source, "kms:ReEncryptFrom", caller, context=source_context)
        self._authorize(destination, "kms:ReEncryptTo", caller, context=destination_context)
        self._usable(source)
        plaintext = self._plaintext(blob, header, source_context)
        new_blob = self._seal(self._usable(destination), plaintext, destination_context)
        return {
            "CiphertextBlob": _b64(new_blob),
            "SourceKeyId": self.key_arn(source.key_id),
            "KeyId": self.key_arn(destination.key_id),
            "SourceEncryptionAlgorithm": SYMMETRIC,
            "DestinationEncryptionAlgorithm": SYMMETRIC,
        }

    def _data_key_length(self, request: Input) -> int:
        spec = request.choice("KeySpec", tuple(DATA_KEY_SPECS))
        count = request.integer("NumberOfBytes", 1, MAX_DATA_KEY_BYTES)
        if (spec is None) == (count is None):
            raise errors.validation("Specify exactly one of KeySpec and NumberOfBytes")
        return DATA_KEY_SPECS[spec] if spec is not None else count  # type: ignore[return-value]

    def generate_data_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        length = self._data_key_length(request)
        context = request.context()
        check = self._check_recipient(request)
        self._authorize(key, "kms:GenerateDataKey", caller, check=check, context=context)
        data_key = secrets.token_bytes(length)
        blob = self._seal(self._usable(key), data_key, context)
        answer = {"CiphertextBlob": _b64(blob), "KeyId": self.key_arn(key.key_id)}
        return answer | self._release(data_key, check, "Plaintext")

    def generate_data_key_without_plaintext(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        length = self._data_key_length(request)
        context = request.context()
        self._authorize(key, "kms:GenerateDataKeyWithoutPlaintext", caller, context=context)
        blob = self._seal(self._usable(key), secrets.token_bytes(length), context)
        return {"CiphertextBlob": _b64(blob), "KeyId": self.key_arn(key.key_id)}

    def generate_random(self, request: Input, caller: Principal) -> dict[str, Any]:
        count = request.integer("NumberOfBytes", 1, MAX_RANDOM_BYTES)
        if count is None:
            raise errors.validation("NumberOfBytes is required")
        request.string("CustomKeyStoreId")  # accepted for compatibility; there are no custom key stores
        check = self._check_recipient(request)
        if check.present and check.recipient is None:
            raise errors.validation(f"The attestation document in Recipient is not valid: {check.reason}")
        return self._release(secrets.token_bytes(count), check, "Plaintext")

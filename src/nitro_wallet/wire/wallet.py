"""The enclave's wallet methods: keys in (create, import, rewrap), signatures out.

A wallet key crosses the boundary only sealed: the host stores the five fields of `SealedKeyFields` and
hands them back with every request; none of them is secret (see `enclave.sealing`).

Secrets reach the enclave one of two ways:
* `sealed_input`: the client encrypts them with HPKE (RFC 9180, base mode, `SEALED_INPUT_SUITE`) to the
  X25519 transport key that the enclave puts in every attestation document it makes for a caller, with
  `sealed_input_info(method)` as the info. The host relays ciphertext it cannot open. The plaintext is
  a JSON object: {"secret"} for keys.create, {"secret", "private_key"} or {"secret", "keystore",
  "password"} for keys.import, each optionally with "policy" (then the client, not the host, chose it).
* `secret` (and `private_key`) in the clear: compatibility with the AWS reference, whose clients send the
  secret to its API. The host relays them without keeping them; it has seen them.

Sign operations. `operation` names one; it is also the operation bound by the v1 request HMAC, and
the payload is the JSON object text the request's HMAC covers:

    operation                           payload                                         policy flag
    eth.sign_transaction                a transaction, amounts in wei                   sign_transaction
    reference.sign_transaction          the same with `value` in ether (the reference)  sign_transaction
    eth.sign_authorization              an EIP-7702 authorization                       sign_transaction
    eth.sign_user_operation             {"userOperation", "entryPoint", "chainId",      sign_user_operation
                                         "entryPointVersion": "v0.6" | "v0.7"}
    eth.sign_user_operation_hash        {"userOpHash"}: signed as an EIP-191 message    sign_user_operation
    reference.sign_user_operation_hash  {"userOpHash"}: the raw hash, as the reference  unsafe_sign_digest
    eth.sign_message                    {"message", "encoding": "utf8" | "hex"}          sign_message
    eth.sign_typed_data                 EIP-712 {"types", "primaryType", "domain",       sign_typed_data
                                         "message"}
    eth.unsafe_sign_digest              {"digest"}                                      unsafe_sign_digest

Split roles (`nitro-wallet up --split-roles`, the AWS reference's layout): a generator enclave makes keys
(keys.create and keys.import, same parameters) but holds no data key: it answers `WrappedKeyFields`, the
key sealed under a fresh data key of its own that KMS generated for it under WALLET_KEY_CONTEXT, and
forgets that data key. The generator may not Decrypt, so it cannot open any key again. The signer enclave
then adopts the key (keys.adopt): it alone may Decrypt the per-key data key, and seals the key under its
own newest data key.

keys.migrate reads one of the AWS reference's keys: the KMS ciphertext of its {"secret", "eth_key"} JSON,
decrypted (attested) under the reference KMS key named in the enclave's measured configuration.

The reference signs a client-given userOpHash as it is: that is signing an arbitrary 32-byte digest (it
could be a transaction's), so it needs the key's unsafe_sign_digest flag; keys made through the
reference's own route have it, as they would in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.methods import MAX_CIPHERTEXT_BLOB_BYTES, WireType, check_length
from nitro_wallet.wire.request_auth import MAX_PAYLOAD_BYTES, AuthScheme

MAX_SEALED_INPUT_BYTES = 64 * 1024  # a keystore is ~1 KiB; a secret at most 1 KiB
MAX_BLOB_BYTES = 4096
MAX_SECRET_TEXT_CHARS = 1024  # a wire bound only: the keyring accepts 36..256 characters
MAX_PRIVATE_KEY_CHARS = 128  # 64 hex digits and a 0x prefix fit well within
SEALED_INPUT_INFO_PREFIX = b"nitro-wallet/sealed-input/v1\n"
TRANSPORT_PUBLIC_KEY_BYTES = 32  # X25519
_SCHEMES = frozenset(scheme.value for scheme in AuthScheme)


class SignOperation:
    """The operation names of `wallet.sign` (see the module docstring)."""

    TRANSACTION = "eth.sign_transaction"
    REFERENCE_TRANSACTION = "reference.sign_transaction"
    AUTHORIZATION = "eth.sign_authorization"
    USER_OPERATION = "eth.sign_user_operation"
    USER_OPERATION_HASH = "eth.sign_user_operation_hash"
    REFERENCE_USER_OPERATION_HASH = "reference.sign_user_operation_hash"
    MESSAGE = "eth.sign_message"
    TYPED_DATA = "eth.sign_typed_data"
    UNSAFE_DIGEST = "eth.unsafe_sign_digest"

    ALL: ClassVar[frozenset[str]] = frozenset(
        {
            TRANSACTION,
            REFERENCE_TRANSACTION,
            AUTHORIZATION,
            USER_OPERATION,
            USER_OPERATION_HASH,
            REFERENCE_USER_OPERATION_HASH,
            MESSAGE,
            TYPED_DATA,
            UNSAFE_DIGEST,
        }
    )


def sealed_input_info(method: str) -> bytes:
    """The HPKE info for a sealed input to `method`: a ciphertext made for one method opens for no other."""
    return SEALED_INPUT_INFO_PREFIX + method.encode("ascii")


@dataclass(frozen=True)
class SealedKeyFields(WireType):
    """One wallet key as the host stores it. `policy` is `KeyPolicy.encode()`; `blob` is the sealed key."""

    key_id: str
    address: bytes
    policy: bytes
    data_key_ref: str
    blob: bytes

    def __post_init__(self) -> None:
        check_length("blob", self.blob, MAX_BLOB_BYTES)


@dataclass(frozen=True)
class WrappedKeyFields(WireType):
    """A key from a generator enclave: sealed under a per-key data key whose KMS ciphertext is data_key_blob
    (data_key_ref names it, as for any data key). Only a signer enclave can open it (keys.adopt)."""

    key_id: str
    address: bytes
    policy: bytes
    data_key_ref: str
    blob: bytes
    data_key_blob: bytes

    def __post_init__(self) -> None:
        check_length("blob", self.blob, MAX_BLOB_BYTES)
        check_length("data_key_blob", self.data_key_blob, MAX_CIPHERTEXT_BLOB_BYTES, low=1)


@dataclass(frozen=True)
class KeyAdoptParams(WrappedKeyFields):
    """A generator's key, to be sealed under the signer's newest data key (answers SealedKeyFields)."""

    METHOD: ClassVar[str] = "keys.adopt"


@dataclass(frozen=True)
class KeyMigrateParams(WireType):
    """One of the AWS reference's keys: its KMS ciphertext. `key_id` keeps the reference's id (its clients
    know the key by it); `address`, if given, must be the key's."""

    METHOD: ClassVar[str] = "keys.migrate"
    ciphertext_blob: bytes
    policy: bytes
    key_id: str | None = None
    address: bytes | None = None

    def __post_init__(self) -> None:
        check_length("ciphertext_blob", self.ciphertext_blob, MAX_CIPHERTEXT_BLOB_BYTES, low=1)


def _one_source(secret: str | None, sealed_input: bytes | None) -> None:
    if (secret is None) == (sealed_input is None):
        raise BadRequest("give exactly one of secret and sealed_input", field="secret")
    check_length("sealed_input", sealed_input, MAX_SEALED_INPUT_BYTES, low=1)
    _check_chars("secret", secret, MAX_SECRET_TEXT_CHARS)


def _check_chars(name: str, value: str | None, high: int) -> None:
    if value is not None and len(value) > high:
        raise BadRequest(f"{name} is longer than {high} characters", field=name)


@dataclass(frozen=True)
class KeyCreateParams(WireType):
    """A new key from the enclave's entropy, sealed under the newest data key the enclave holds."""

    METHOD: ClassVar[str] = "keys.create"
    policy: bytes
    secret: str | None = None
    sealed_input: bytes | None = None

    def __post_init__(self) -> None:
        _one_source(self.secret, self.sealed_input)

    def __repr__(self) -> str:
        return "KeyCreateParams(<hidden>)"


@dataclass(frozen=True)
class KeyImportParams(WireType):
    """An existing private key: in the clear (secret and private_key) or in sealed_input."""

    METHOD: ClassVar[str] = "keys.import"
    policy: bytes
    secret: str | None = None
    private_key: str | None = None
    sealed_input: bytes | None = None

    def __post_init__(self) -> None:
        _one_source(self.secret, self.sealed_input)
        if (self.secret is None) != (self.private_key is None):
            raise BadRequest("secret and private_key go together", field="private_key")
        _check_chars("private_key", self.private_key, MAX_PRIVATE_KEY_CHARS)

    def __repr__(self) -> str:
        return "KeyImportParams(<hidden>)"


@dataclass(frozen=True)
class KeyRewrapParams(WireType):
    """The same key sealed under another data key the enclave holds."""

    METHOD: ClassVar[str] = "keys.rewrap"
    key_id: str
    address: bytes
    policy: bytes
    data_key_ref: str
    blob: bytes
    new_data_key_ref: str


@dataclass(frozen=True)
class SignParams(WireType):
    """Sign `payload` for `operation` with one key, if the request authenticates with the key's secret."""

    METHOD: ClassVar[str] = "wallet.sign"
    key_id: str
    address: bytes
    policy: bytes
    data_key_ref: str
    blob: bytes
    operation: str
    payload: str  # JSON object text, exactly what the HMAC covers
    scheme: str  # an AuthScheme value
    timestamp: int
    hmac: str
    nonce: str | None = None  # v1 only

    def __post_init__(self) -> None:
        if self.operation not in SignOperation.ALL:
            raise BadRequest(f"unknown sign operation {self.operation[:64]!r}", field="operation")
        if self.scheme not in _SCHEMES:
            raise BadRequest("scheme must be 'v1' or 'reference'", field="scheme")
        if len(self.payload) > MAX_PAYLOAD_BYTES:
            raise BadRequest(f"payload is larger than {MAX_PAYLOAD_BYTES} characters", field="payload")

    def key(self) -> SealedKeyFields:
        return SealedKeyFields(self.key_id, self.address, self.policy, self.data_key_ref, self.blob)


@dataclass(frozen=True)
class SignResult(WireType):
    """What was signed and the signature, as text ready for JSON: hex with 0x, integers in decimal.

    Always: digest, r, s, y_parity, v. By operation: signature (r || s || v, 65 bytes, v = 27 + y_parity)
    for messages, typed data, user operations and digests; transaction_hash and raw_transaction for
    transactions; user_op_hash for user operations; chain_id, address, nonce for authorizations.
    """

    fields: dict[str, str]

"""The enclave's RPC methods: each name with its parameter and result types.

Both sides build and parse these frozen classes instead of passing dicts around. Decoding is strict: an
unknown field, a missing one or a wrong type is a BadRequest naming the field. Field types are limited to
bytes, str, int, bool, `| None` and maps with text keys (the wire refuses other map keys).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple, Self, Union, get_args, get_origin, get_type_hints

from nitro_wallet.wire.errors import BadRequest

MAX_ATTESTATION_FIELD_BYTES = 1024  # what the NSM accepts for nonce and user_data
MAX_CIPHERTEXT_BLOB_BYTES = 6144


def _check_type(name: str, value: object, hint: object) -> None:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return
        (inner,) = [option for option in options if option is not type(None)]
        _check_type(name, value, inner)
        return
    if origin is dict:
        key_type, value_type = get_args(hint)
        if not isinstance(value, dict):
            raise BadRequest(f"{name} must be a map", field=name)
        for key, item in value.items():
            if type(key) is not key_type or type(item) is not value_type:
                raise BadRequest(f"{name} must map {key_type.__name__} to {value_type.__name__}", field=name)
        return
    if type(value) is not hint:  # exact: a bool is not an int here
        raise BadRequest(f"{name} must be {getattr(hint, '__name__', hint)}", field=name)


class _Field(NamedTuple):
    name: str
    hint: object
    required: bool
    exact: frozenset[type]  # types accepted at a glance; anything else goes through `_check_type`


def _exact_types(hint: object) -> frozenset[type]:
    """The types `_check_type` accepts for `hint` by their type alone (none for maps: their items count)."""
    if get_origin(hint) in (Union, types.UnionType):
        return frozenset().union(*(_exact_types(option) for option in get_args(hint)))
    return frozenset({hint}) if isinstance(hint, type) and get_origin(hint) is None else frozenset()


class _Schema(NamedTuple):
    names: frozenset[str]
    fields: tuple[_Field, ...]


@functools.cache
def _schema(cls: type) -> _Schema:
    """Each field's type hint and whether it is required, once per class (get_type_hints is slow)."""
    hints = get_type_hints(cls)
    fields_ = tuple(
        _Field(
            f.name,
            hints[f.name],
            f.default is MISSING and f.default_factory is MISSING,
            _exact_types(hints[f.name]),
        )
        for f in fields(cls)
    )
    return _Schema(frozenset(f.name for f in fields_), fields_)


class WireType:
    """Base of parameter and result types: strict decoding from, and encoding to, a CBOR map."""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        schema = _schema(cls)  # type: ignore[arg-type]  # classes are hashable; mypy cannot see it for type[Self]
        if not schema.names.issuperset(data):
            unknown = sorted(set(data) - schema.names)
            raise BadRequest(f"unknown field {unknown[0]!r}", field=str(unknown[0]))
        values: dict[str, Any] = {}
        for name, hint, required, exact in schema.fields:
            if name in data:
                value = data[name]
                if type(value) not in exact:
                    _check_type(name, value, hint)
                values[name] = value
            elif required:
                raise BadRequest(f"missing field {name!r}", field=name)
        return cls(**values)

    def to_wire(self) -> dict[str, Any]:
        fields_ = _schema(type(self)).fields  # type: ignore[arg-type]  # hashable, as in parse
        return {f.name: getattr(self, f.name) for f in fields_}


def check_length(name: str, value: bytes | None, high: int, *, low: int = 0) -> None:
    if value is not None and not low <= len(value) <= high:
        raise BadRequest(f"{name} must be {low}..{high} bytes", field=name)


# describe: what this enclave is


@dataclass(frozen=True)
class DescribeParams(WireType):
    METHOD: ClassVar[str] = "describe"


@dataclass(frozen=True)
class DescribeResult(WireType):
    module_id: str
    nsm: str  # "device" or "emulated"
    debug: bool
    pcrs: dict[str, bytes]  # the locked PCRs by decimal index ("0".."15"...), as a document carries them
    role: str = "wallet"  # "wallet", or "generator" / "signer" in the split layout

    def pcr(self, index: int) -> bytes:
        return self.pcrs[str(index)]


# attest: a fresh attestation document over the caller's nonce
#
# There is deliberately no public_key parameter. KMS encrypts `CiphertextForRecipient` to the document's
# public key, so an enclave that signed a caller's key into a document would hand the host every secret KMS
# releases to it. Only the enclave's own KMS client puts a key (its own) in a document.


@dataclass(frozen=True)
class AttestParams(WireType):
    METHOD: ClassVar[str] = "attest"
    nonce: bytes
    user_data: bytes | None = None

    def __post_init__(self) -> None:
        check_length("nonce", self.nonce, MAX_ATTESTATION_FIELD_BYTES, low=1)
        check_length("user_data", self.user_data, MAX_ATTESTATION_FIELD_BYTES)


@dataclass(frozen=True)
class AttestResult(WireType):
    document: bytes


# kms.credentials: the parent instance's role credentials, for the enclave's own KMS calls


@dataclass(frozen=True)
class KmsCredentialsParams(WireType):
    METHOD: ClassVar[str] = "kms.credentials"
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"KmsCredentialsParams(access_key_id={self.access_key_id!r}, secret_access_key=<hidden>)"


@dataclass(frozen=True)
class Empty(WireType):
    pass


# data_key.generate / data_key.load: data keys released by KMS to this enclave only
#
# The host chooses neither the KMS key (pinned in the enclave's measured image config) nor the encryption
# context (fixed below). Every data key carries DATA_KEY_CONTEXT in KMS, and generated key policies deny
# kms:Encrypt and kms:ReEncrypt* under it: the only way to mint a data key is an attested GenerateDataKey,
# so no one outside the enclave can know one.

DATA_KEY_CONTEXT: Mapping[str, str] = MappingProxyType({"nitro-wallet-purpose": "data-key"})
# A generator enclave (split roles, wire.wallet) wraps each key it makes under a data key of its own,
# generated under WALLET_KEY_CONTEXT; policies deny Encrypt and ReEncrypt under it too.
WALLET_KEY_CONTEXT: Mapping[str, str] = MappingProxyType({"nitro-wallet-purpose": "wallet-key"})


@dataclass(frozen=True)
class DataKeyGenerateParams(WireType):
    METHOD: ClassVar[str] = "data_key.generate"


@dataclass(frozen=True)
class DataKeyLoadParams(WireType):
    METHOD: ClassVar[str] = "data_key.load"
    ciphertext_blob: bytes

    def __post_init__(self) -> None:
        check_length("ciphertext_blob", self.ciphertext_blob, MAX_CIPHERTEXT_BLOB_BYTES, low=1)


@dataclass(frozen=True)
class DataKeyResult(WireType):
    """What the host may know of a data key: its KMS ciphertext, an id, and a check value."""

    ciphertext_blob: bytes
    key_ref: str  # hex SHA-256 of the ciphertext blob, truncated: names the key, reveals nothing
    check_value: bytes  # HMAC-SHA256(data key, fixed label)[:8], like an HSM's key check value

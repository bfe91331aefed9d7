"""The enclave's validator methods (issue: the Eth2 validator signer): keystores in, BLS signatures out.

A validator key crosses the boundary only sealed, like a wallet key: the host stores `SealedValidatorFields`
(pubkey, data key ref, blob) and hands them back with every request; none of them is secret.

validators.import: an EIP-2335 keystore and its password, decrypted and sealed inside. In the clear
(`keystore` JSON text and `password`: the Keymanager API gives both to the host, as Web3Signer's does) or
HPKE-sealed to the enclave's transport key (`sealed_input`, a JSON object {"keystore", "password"} sealed
with `wire.wallet.sealed_input_info(ValidatorImportParams.METHOD)`), which the host cannot open.

eth2.sign: `request` is the Web3Signer signing request body, as JSON text. The enclave computes the signing
root itself (a client's signingRoot must equal it: SigningRootMismatch otherwise), refuses what would go
below its own per-validator high-water marks for this enclave's lifetime (SlashingProtection), then signs.
The result carries what the host's slashing-protection database checks and records before the signature
is released: the root, the type, the block slot or the attestation's source and target epochs, and the
genesis validators root from fork_info.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.methods import WireType, check_length
from nitro_wallet.wire.wallet import MAX_SEALED_INPUT_BYTES

PUBKEY_BYTES = 48
SIGNATURE_BYTES = 96
ROOT_BYTES = 32
VERSION_BYTES = 4
MAX_VALIDATOR_BLOB_BYTES = 256
MAX_KEYSTORE_CHARS = 16 * 1024  # an EIP-2335 keystore is ~1 KiB; the enclave's reader takes up to this
MAX_PASSWORD_CHARS = 1024
MAX_SIGNING_REQUEST_CHARS = 1024 * 1024  # a maximal phase0 block body is ~270 KB of JSON
PRESETS = ("mainnet", "minimal")


def _check_chars(name: str, value: str | None, high: int) -> None:
    if value is not None and len(value) > high:
        raise BadRequest(f"{name} is longer than {high} characters", field=name)


@dataclass(frozen=True)
class SealedValidatorFields(WireType):
    """One validator key as the host stores it."""

    pubkey: bytes
    data_key_ref: str
    blob: bytes

    def __post_init__(self) -> None:
        check_length("pubkey", self.pubkey, PUBKEY_BYTES, low=PUBKEY_BYTES)
        check_length("blob", self.blob, MAX_VALIDATOR_BLOB_BYTES, low=1)


@dataclass(frozen=True)
class ValidatorImportParams(WireType):
    """An EIP-2335 keystore and its password, in the clear or in `sealed_input`; answers
    SealedValidatorFields, sealed under the newest data key the enclave holds."""

    METHOD: ClassVar[str] = "validators.import"
    keystore: str | None = None
    password: str | None = None
    sealed_input: bytes | None = None

    def __post_init__(self) -> None:
        clear = self.keystore is not None or self.password is not None
        if clear == (self.sealed_input is not None):
            raise BadRequest("give keystore and password, or sealed_input", field="keystore")
        if clear and (self.keystore is None or self.password is None):
            raise BadRequest("keystore and password go together", field="password")
        _check_chars("keystore", self.keystore, MAX_KEYSTORE_CHARS)
        _check_chars("password", self.password, MAX_PASSWORD_CHARS)
        check_length("sealed_input", self.sealed_input, MAX_SEALED_INPUT_BYTES, low=1)

    def __repr__(self) -> str:
        return "ValidatorImportParams(<hidden>)"


@dataclass(frozen=True)
class Eth2SignParams(WireType):
    """Sign one Web3Signer signing request with one validator key (see the module docstring)."""

    METHOD: ClassVar[str] = "eth2.sign"
    pubkey: bytes
    data_key_ref: str
    blob: bytes
    request: str  # the Web3Signer request body, JSON text
    genesis_fork_version: bytes  # the configured network's, for DEPOSIT and VALIDATOR_REGISTRATION
    preset: str = "mainnet"

    def __post_init__(self) -> None:
        check_length("pubkey", self.pubkey, PUBKEY_BYTES, low=PUBKEY_BYTES)
        check_length("blob", self.blob, MAX_VALIDATOR_BLOB_BYTES, low=1)
        check_length("genesis_fork_version", self.genesis_fork_version, VERSION_BYTES, low=VERSION_BYTES)
        _check_chars("request", self.request, MAX_SIGNING_REQUEST_CHARS)
        if self.preset not in PRESETS:
            raise BadRequest(f"preset must be one of {', '.join(PRESETS)}", field="preset")

    def key(self) -> SealedValidatorFields:
        return SealedValidatorFields(self.pubkey, self.data_key_ref, self.blob)


@dataclass(frozen=True)
class Eth2SignResult(WireType):
    """The signature and what slashing protection needs: `type` is the Web3Signer signing type; `slot` is
    set for BLOCK and BLOCK_V2, `source_epoch`/`target_epoch` for ATTESTATION; `genesis_validators_root`
    whenever the request carried fork_info."""

    signature: bytes
    signing_root: bytes
    type: str
    genesis_validators_root: bytes | None = None
    slot: int | None = None
    source_epoch: int | None = None
    target_epoch: int | None = None

    def __post_init__(self) -> None:
        check_length("signature", self.signature, SIGNATURE_BYTES, low=SIGNATURE_BYTES)
        check_length("signing_root", self.signing_root, ROOT_BYTES, low=ROOT_BYTES)
        check_length("genesis_validators_root", self.genesis_validators_root, ROOT_BYTES, low=ROOT_BYTES)

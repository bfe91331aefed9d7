"""The validator methods (`wire.eth2`): keystores in through the validator keyring, BLS signatures out.

Every signature runs one path, in this order: decode the Web3Signer request body strictly; compute its
signing root here (a client's signingRoot is only compared with it); check the request against this
enclave's high-water marks for the validator; unseal the key (the blob's tag binds its pubkey) and sign; move
the marks. The last three run under the watermarks' lock (`Watermarks.guard`), so no caller can skip the
check or sign twice in a race.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Mapping

from nitro_wallet.enclave.eth2.keyring import SealedValidator, ValidatorKeyring
from nitro_wallet.enclave.eth2.signing import MAINNET, MINIMAL, Preset, parse_signing_request
from nitro_wallet.enclave.eth2.watermarks import Watermarks
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.eth2 import (
    Eth2SignParams,
    Eth2SignResult,
    SealedValidatorFields,
    ValidatorImportParams,
)
from nitro_wallet.wire.json_limits import nesting_exceeds

MAX_REQUEST_NESTING_DEPTH = 16  # the deepest Web3Signer body, a phase0 block's attester slashing, has 9
PRESETS_BY_NAME: Mapping[str, Preset] = {preset.name: preset for preset in (MAINNET, MINIMAL)}

_SEALED_IMPORT_INPUT = frozenset({"keystore", "password"})


class ValidatorSigner:
    def __init__(
        self,
        keyring: ValidatorKeyring,
        watermarks: Watermarks,
        newest_data_key: Callable[[], str],
        transport: TransportKey,
    ) -> None:
        self._keyring = keyring
        self._watermarks = watermarks
        self._newest_data_key = newest_data_key
        self._transport = transport

    def __repr__(self) -> str:
        return f"ValidatorSigner({self._keyring!r}, {self._watermarks!r})"

    def import_(self, params: ValidatorImportParams) -> SealedValidatorFields:
        """Seal a keystore's key under the newest data key. The keystore's KDF runs here: call it off the
        event loop."""
        keystore: Mapping[str, object] | str
        if params.sealed_input is None:
            keystore, password = _text(params.keystore, "keystore"), _text(params.password, "password")
        else:
            opened = self._transport.open_json(params.sealed_input, params.METHOD)
            if set(opened) != _SEALED_IMPORT_INPUT:
                raise BadRequest(
                    "sealed_input must be a JSON object with exactly keystore and password",
                    field="sealed_input",
                )
            keystore = _keystore(opened["keystore"])
            password = _text(opened["password"], "sealed_input.password")
        return _fields(self._keyring.import_keystore(keystore, password, self._newest_data_key()))

    def sign(self, params: Eth2SignParams) -> Eth2SignResult:
        sealed = _sealed(params.key())
        request = parse_signing_request(
            decode_request(params.request),
            genesis_fork_version=params.genesis_fork_version,
            preset=PRESETS_BY_NAME[params.preset],
        )
        signature = self._watermarks.guard(
            sealed.pubkey, request, lambda: self._keyring.sign_root(sealed, request.signing_root)
        )
        return Eth2SignResult(
            signature=signature,
            signing_root=request.signing_root,
            type=request.type.value,
            genesis_validators_root=request.genesis_validators_root,
            slot=None if request.proposal is None else request.proposal.slot,
            source_epoch=None if request.vote is None else request.vote.source_epoch,
            target_epoch=None if request.vote is None else request.vote.target_epoch,
        )


def decode_request(text: str) -> object:
    """A signing request body, decoded strictly: NaN, Infinity and repeated keys are refused (each reader of
    an ambiguous body could see another message), integers stay exact."""
    if nesting_exceeds(text, MAX_REQUEST_NESTING_DEPTH):
        message = f"request nests objects and arrays deeper than {MAX_REQUEST_NESTING_DEPTH} levels"
        raise BadRequest(message, field="request")
    try:
        return json.loads(
            text,
            parse_float=decimal.Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_members,
        )
    except _Ambiguous as error:
        raise BadRequest(f"request {error}", field="request") from None
    except ValueError as error:  # JSONDecodeError, or an integer longer than Python reads
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "a number is too long"
        raise BadRequest(f"request is not valid JSON: {reason}", field="request") from None


class _Ambiguous(Exception):
    pass


def _refuse_constant(name: str) -> object:
    raise _Ambiguous(f"holds {name}, which is not JSON")


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members: dict[str, object] = {}
    for key, value in pairs:
        if key in members:
            raise _Ambiguous(f"repeats the key {key[:64]!r}")
        members[key] = value
    return members


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be text", field=field)
    return value


def _keystore(value: object) -> Mapping[str, object] | str:
    if not isinstance(value, Mapping | str):
        raise BadRequest(
            "sealed_input.keystore must be a JSON object or JSON text", field="sealed_input.keystore"
        )
    return value


def _sealed(fields: SealedValidatorFields) -> SealedValidator:
    return SealedValidator(fields.pubkey, fields.data_key_ref, fields.blob)


def _fields(sealed: SealedValidator) -> SealedValidatorFields:
    return SealedValidatorFields(pubkey=sealed.pubkey, data_key_ref=sealed.data_key_ref, blob=sealed.blob)

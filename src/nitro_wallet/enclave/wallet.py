"""The wallet methods (`wire.wallet`): keys in through the keyring, signatures out, requests authenticated.

Every signature runs one path, in this order: parse the payload and compute the digest here
(eth/operations.py); unseal the key (the blob's tag binds id, address and policy); authenticate the request
with the key's own secret (timestamp window, HMAC, and for v1 the replay guard); check the key's policy for
the operation and chain; sign. The keyring's `sign` runs the last four, so no caller can skip one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from nitro_wallet.enclave.eth.operations import prepare
from nitro_wallet.enclave.keyring import Keyring, SealedKey
from nitro_wallet.enclave.request_auth import ReplayGuard, verify_request
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.wire.errors import BadRequest, Denied
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.request_auth import AuthScheme
from nitro_wallet.wire.wallet import (
    KeyCreateParams,
    KeyImportParams,
    KeyRewrapParams,
    SealedKeyFields,
    SignParams,
    SignResult,
)

Clock = Callable[[], float]

_CREATE_INPUT = frozenset({"secret", "policy"})
_IMPORT_INPUT = frozenset({"secret", "private_key", "keystore", "password", "policy"})


class Wallet:
    def __init__(
        self,
        keyring: Keyring,
        newest_data_key: Callable[[], str],
        transport: TransportKey,
        *,
        guard: ReplayGuard | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._keyring = keyring
        self._newest_data_key = newest_data_key
        self._transport = transport
        self._guard = ReplayGuard() if guard is None else guard
        self._clock = clock

    def __repr__(self) -> str:
        return f"Wallet({self._keyring!r}, {self._guard!r})"

    # --- keys in -----------------------------------------------------------------------------------------

    def create(self, params: KeyCreateParams) -> SealedKeyFields:
        policy = _policy(params.policy)
        secret: object = params.secret
        if params.sealed_input is not None:
            secret = self._open(params.sealed_input, params.METHOD, policy, _CREATE_INPUT).get("secret")
        return sealed_fields(self._keyring.generate(_text(secret, "secret"), policy, self._newest_data_key()))

    def import_key(self, params: KeyImportParams) -> SealedKeyFields:
        policy = _policy(params.policy)
        ref = self._newest_data_key()
        if params.sealed_input is None:
            secret, private_key = params.secret, params.private_key
            sealed = self._keyring.import_hex(
                _text(secret, "secret"), _text(private_key, "private_key"), policy, ref
            )
            return sealed_fields(sealed)
        opened = self._open(params.sealed_input, params.METHOD, policy, _IMPORT_INPUT)
        secret = _text(opened.get("secret"), "sealed_input.secret")
        if ("keystore" in opened) == ("private_key" in opened):
            raise BadRequest(
                "sealed_input holds exactly one of private_key and keystore", field="sealed_input"
            )
        if "private_key" in opened:
            private_key = _text(opened["private_key"], "sealed_input.private_key")
            return sealed_fields(self._keyring.import_hex(secret, private_key, policy, ref))
        keystore = opened["keystore"]
        if not isinstance(keystore, Mapping):
            raise BadRequest("sealed_input.keystore must be a JSON object", field="sealed_input.keystore")
        password = _text(opened.get("password"), "sealed_input.password")
        return sealed_fields(self._keyring.import_keystore(secret, keystore, password, policy, ref))

    def rewrap(self, params: KeyRewrapParams) -> SealedKeyFields:
        sealed = _sealed(
            SealedKeyFields(params.key_id, params.address, params.policy, params.data_key_ref, params.blob)
        )
        return sealed_fields(self._keyring.rewrap(sealed, params.new_data_key_ref))

    # --- signatures out ----------------------------------------------------------------------------------

    def sign(self, params: SignParams) -> SignResult:
        prepared = prepare(params.operation, params.payload)
        v1 = params.scheme == AuthScheme.V1

        def authenticate(secret: str) -> None:
            verify_request(
                scheme=AuthScheme(params.scheme),
                secret=secret,
                key_id=params.key_id,
                canonical_payload=prepared.canonical_payload,
                timestamp=params.timestamp,
                hmac_hex=params.hmac,
                guard=self._guard,
                operation=params.operation if v1 else None,
                nonce=params.nonce,
                clock=self._clock,
            )

        if not v1 and params.nonce is not None:
            raise BadRequest("the reference scheme has no nonce", field="nonce")
        signature = self._keyring.sign(
            _sealed(params.key()),
            prepared.permission.value,
            prepared.digest,
            chain_id=prepared.chain_id,
            authenticate=authenticate,
        )
        return SignResult(fields=prepared.finish(signature))

    # --- inside ------------------------------------------------------------------------------------------

    def _open(
        self, sealed_input: bytes, method: str, policy: KeyPolicy, allowed: frozenset[str]
    ) -> Mapping[str, object]:
        opened = self._transport.open_json(sealed_input, method)
        unknown = sorted(set(opened) - allowed)
        if unknown:
            raise BadRequest(f"unknown field in sealed_input: {unknown[0][:64]!r}", field="sealed_input")
        if (
            "policy" in opened
            and KeyPolicy.from_json(opened["policy"], field="sealed_input.policy") != policy
        ):
            raise Denied(
                "the policy sent beside sealed_input differs from the one sealed in it", field="policy"
            )
        return opened


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be text", field=field)
    return value


def _policy(encoded: bytes) -> KeyPolicy:
    return KeyPolicy.decode(encoded)


def _sealed(fields: SealedKeyFields) -> SealedKey:
    return SealedKey(fields.key_id, fields.address, _policy(fields.policy), fields.data_key_ref, fields.blob)


def sealed_fields(sealed: SealedKey) -> SealedKeyFields:
    """A sealed key as the wire carries it."""
    return SealedKeyFields(
        key_id=sealed.key_id,
        address=sealed.address,
        policy=sealed.policy.encode(),
        data_key_ref=sealed.data_key_ref,
        blob=sealed.blob,
    )

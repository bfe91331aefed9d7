"""`WalletClient`: the host's HTTP API (docs/api.md) as Python calls, synchronous, over httpx.

Secrets stay on the client's side of the host wherever the API allows it:
* signing: the client computes the v1 request HMAC with the key's secret and sends only the MAC;
* creating and importing with `sealed=True` (the default): the secret and the private key or keystore
  are HPKE-sealed to the transport key of an enclave whose attestation document the client verified
  against its own trust roots (the AWS Nitro root unless told otherwise) with a fresh nonce.
`sealed=False` and the `reference_*` helpers send the secret (and key) to the host in the clear, as the
AWS reference's clients do; the host relays them without keeping them, but it has seen them.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from nitro_wallet.attestation import roots
from nitro_wallet.client.connection import DEFAULT_TIMEOUT_SECONDS, Connection, json_body, path_segment
from nitro_wallet.client.credentials import ApiKeyAuth, SigV4Auth
from nitro_wallet.client.errors import UnexpectedResponse
from nitro_wallet.client.request_auth import payload_text, sign_body, v1_auth
from nitro_wallet.client.sealed_input import seal
from nitro_wallet.client.transport_key import Roots, new_nonce, verified_public_key
from nitro_wallet.client.views import CreatedKey, KeyPage, KeyView, string_fields
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.methods import MAX_ATTESTATION_FIELD_BYTES
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyCreateParams, KeyImportParams, SignOperation

GENERATED_SECRET_BYTES = 32  # a secret the client makes when given none: 64 hex characters

SIGN_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "transaction": SignOperation.TRANSACTION,
        "authorization": SignOperation.AUTHORIZATION,
        "user-operation": SignOperation.USER_OPERATION,
        "user-operation-hash": SignOperation.USER_OPERATION_HASH,
        "message": SignOperation.MESSAGE,
        "typed-data": SignOperation.TYPED_DATA,
        "unsafe-digest": SignOperation.UNSAFE_DIGEST,
    }
)

PolicyInput = KeyPolicy | Mapping[str, object] | None


class WalletClient:
    """A client of one host. `verify_roots` are the roots attestation documents must chain to before
    anything is sealed to their key (default: the AWS Nitro root G1); `expected_pcrs` pins the enclave
    image (PCR index to value)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: SigV4Auth | ApiKeyAuth | None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify_roots: Roots | None = None,
        expected_pcrs: Mapping[int, bytes] | None = None,
    ) -> None:
        self._connection = Connection(base_url, auth=auth, timeout=timeout)
        self._roots = roots.aws_nitro_root() if verify_roots is None else verify_roots
        self._expected_pcrs = None if expected_pcrs is None else dict(expected_pcrs)

    def __repr__(self) -> str:
        return f"WalletClient({self._connection.base_url!r})"

    def __enter__(self) -> WalletClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    # --- keys ---------------------------------------------------------------------------------------------

    def create_key(
        self,
        secret: str | None = None,
        *,
        sealed: bool = True,
        label: str | None = None,
        tags: Mapping[str, str] | None = None,
        policy: PolicyInput = None,
    ) -> CreatedKey:
        """A new key from the enclave's entropy. Without `secret`, a random one is made and returned."""
        secret = _secret_or_new(secret)
        body = self._key_body(
            KeyCreateParams.METHOD, {"secret": secret}, sealed=sealed, label=label, tags=tags, policy=policy
        )
        answer = self._connection.json("POST", "/v1/keys", body=body)
        return CreatedKey(_key(answer), secret)

    def import_key(
        self,
        *,
        private_key: str | None = None,
        keystore: Mapping[str, object] | str | None = None,
        password: str | None = None,
        secret: str | None = None,
        sealed: bool = True,
        label: str | None = None,
        tags: Mapping[str, str] | None = None,
        policy: PolicyInput = None,
    ) -> CreatedKey:
        """An existing private key (hex) or a Web3 Secret Storage keystore with its password (sealed only)."""
        if (private_key is None) == (keystore is None):
            raise BadRequest("give exactly one of private_key and keystore", field="private_key")
        secret = _secret_or_new(secret)
        material: dict[str, object] = {"secret": secret}
        if keystore is not None:
            if not sealed:
                message = "a keystore is imported only sealed (the API takes no keystore in the clear)"
                raise BadRequest(message, field="keystore")
            if password is None:
                raise BadRequest("a keystore needs its password", field="password")
            material |= {"keystore": _keystore_object(keystore), "password": password}
        else:
            material["private_key"] = private_key
        body = self._key_body(
            KeyImportParams.METHOD, material, sealed=sealed, label=label, tags=tags, policy=policy
        )
        answer = self._connection.json("POST", "/v1/keys/import", body=body)
        return CreatedKey(_key(answer), secret)

    def migrate_key(
        self,
        ciphertext_blob: bytes,
        *,
        key_id: str | None = None,
        address: str | None = None,
        label: str | None = None,
        tags: Mapping[str, str] | None = None,
        policy: PolicyInput = None,
    ) -> KeyView:
        """One of the AWS reference's keys: the KMS ciphertext its DynamoDB table holds, which only an
        enclave configured with the reference's KMS key can decrypt. `key_id` keeps the reference's id;
        `address`, if given, must be the key's. The key keeps the reference's secret (it is inside the
        ciphertext), so the answer is the key alone."""
        if not isinstance(ciphertext_blob, bytes) or not ciphertext_blob:
            raise BadRequest("ciphertext_blob must be non-empty bytes", field="ciphertext_blob")
        optional: dict[str, object | None] = {
            "key_id": key_id,
            "address": address,
            "label": label,
            "tags": None if tags is None else dict(tags),
            "policy": _policy_json(policy),
        }
        body: dict[str, object] = {"ciphertext_blob": base64.b64encode(ciphertext_blob).decode("ascii")}
        body |= {name: value for name, value in optional.items() if value is not None}
        return _key(self._connection.json("POST", "/v1/keys/migrate", body=json_body(body)))

    def list_keys(self, limit: int | None = None, cursor: str | None = None) -> KeyPage:
        query = {}
        if limit is not None:
            query["limit"] = str(limit)
        if cursor is not None:
            query["cursor"] = cursor
        return KeyPage.from_json(self._connection.json("GET", "/v1/keys", query=query))

    def iter_keys(self, limit: int | None = None) -> Iterator[KeyView]:
        """Every key, page after page (`limit` keys per request)."""
        cursor: str | None = None
        while True:
            page = self.list_keys(limit, cursor)
            yield from page.keys
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor:
                raise UnexpectedResponse("the host answered the same cursor twice")
            cursor = page.next_cursor

    def get_key(self, key_id: str) -> KeyView:
        return _key(self._connection.json("GET", _key_path(key_id)))

    def disable_key(self, key_id: str) -> KeyView:
        """A disabled key signs nothing until enabled again."""
        return _key(self._connection.json("POST", _key_path(key_id) + "/disable"))

    def enable_key(self, key_id: str) -> KeyView:
        return _key(self._connection.json("POST", _key_path(key_id) + "/enable"))

    def delete_key(self, key_id: str) -> None:
        self._connection.request("DELETE", _key_path(key_id))

    # --- signatures ---------------------------------------------------------------------------------------

    def sign(
        self, key_id: str, kind: str, payload: Mapping[str, object] | str, secret: str
    ) -> dict[str, str]:
        """Sign `payload` (a JSON object, or its exact text) as `kind` (a key of SIGN_KINDS). The answer
        has key_id, address, operation and the operation's signature fields (`wire.wallet.SignResult`)."""
        operation = SIGN_KINDS.get(kind)
        if operation is None:
            raise BadRequest(
                f"unknown sign kind {kind[:40]!r}; use one of {', '.join(SIGN_KINDS)}", field="kind"
            )
        text = payload_text(payload)
        auth = v1_auth(secret, text, key_id=key_id, operation=operation)
        path = f"{_key_path(key_id)}/sign/{kind}"
        return string_fields(self._connection.json("POST", path, body=sign_body(text, auth)), "signature")

    # --- attestation --------------------------------------------------------------------------------------

    def attestation(self, nonce: bytes) -> bytes:
        """A fresh attestation document (COSE_Sign1 bytes) carrying `nonce`, NOT verified: see
        `transport_key` for a verified key."""
        return _document_bytes(self._attestation_answer(nonce))

    def transport_key(
        self,
        verify_root: Roots,
        *,
        expected_pcrs: Mapping[int, bytes] | None = None,
        method: str | None = None,
    ) -> bytes:
        """The enclave's 32-byte X25519 transport key, from a document asked for with a fresh random nonce
        and verified against `verify_root` (and `expected_pcrs`); AttestationError if it does not verify.
        `method` asks for the document of the enclave that opens that method's sealed input (with split
        roles the generator and the signer each have their own key)."""
        nonce = new_nonce()
        document = self._attestation_answer(nonce, method)
        return verified_public_key(document, nonce, verify_root, expected_pcrs=expected_pcrs)

    def sealing_key(self, method: str) -> bytes:
        """`transport_key` for `method`, verified against this client's roots and expected PCRs."""
        return self.transport_key(self._roots, expected_pcrs=self._expected_pcrs, method=method)

    def _attestation_answer(self, nonce: bytes, method: str | None = None) -> object:
        if not isinstance(nonce, bytes) or not 1 <= len(nonce) <= MAX_ATTESTATION_FIELD_BYTES:
            raise BadRequest(f"nonce must be 1..{MAX_ATTESTATION_FIELD_BYTES} bytes", field="nonce")
        query = {"nonce": nonce.hex()} if method is None else {"nonce": nonce.hex(), "method": method}
        answer = self._connection.json("GET", "/v1/attestation", query=query)
        return answer.get("document") if isinstance(answer, dict) else None

    # --- the AWS reference's routes -----------------------------------------------------------------------

    def reference_create_key(self, secret: str, eth_key: str | None = None) -> dict[str, str]:
        """`POST /key`: {"key_id", "address"}. Sends the secret (and key) to the host in the clear."""
        body: dict[str, object] = {"secret": secret}
        if eth_key is not None:
            body["eth_key"] = eth_key
        return _enclave_result(self._connection.json("POST", "/key", body=json_body(body)))

    def reference_tx_signature(
        self, key_id: str, transaction_payload: Mapping[str, object] | str, secret: str
    ) -> dict[str, str]:
        """`POST /key/{key_id}/tx_signature` (value in ether): {"tx_hash", "tx_signed"}."""
        return self._reference_sign(key_id, "tx_signature", payload_text(transaction_payload), secret)

    def reference_userop_signature(self, key_id: str, user_op_hash: str, secret: str) -> dict[str, str]:
        """`POST /key/{key_id}/userop_signature`: {"signature"} over the raw hash."""
        text = payload_text({"userOpHash": user_op_hash})
        return self._reference_sign(key_id, "userop_signature", text, secret)

    def _reference_sign(self, key_id: str, route: str, text: str, secret: str) -> dict[str, str]:
        rest = json.dumps({"key_id": key_id, "secret": secret})
        body = ('{"transaction_payload":' + text + "," + rest[1:]).encode("utf-8")
        return _enclave_result(
            self._connection.json("POST", f"/key/{path_segment(key_id, 'key_id')}/{route}", body=body)
        )

    # --- inside -------------------------------------------------------------------------------------------

    def _key_body(
        self,
        method: str,
        material: dict[str, object],
        *,
        sealed: bool,
        label: str | None,
        tags: Mapping[str, str] | None,
        policy: PolicyInput,
    ) -> bytes:
        policy_json = _policy_json(policy)
        sealed_to = self.transport_key(self._roots, expected_pcrs=self._expected_pcrs) if sealed else None
        return key_body(method, material, sealed_to=sealed_to, label=label, tags=tags, policy=policy_json)


def key_body(
    method: str,
    material: Mapping[str, object],
    *,
    sealed_to: bytes | None,
    label: str | None = None,
    tags: Mapping[str, str] | None = None,
    policy: Mapping[str, object] | None = None,
) -> bytes:
    """The body of `POST /v1/keys` or `/v1/keys/import`: `material` (the secret, the private key or
    keystore) sealed to the transport key `sealed_to` for `method`, or in the clear without one. A policy
    goes beside the sealed input and inside it, so the enclave knows the client, not the host, chose it."""
    body: dict[str, object] = {}
    if sealed_to is not None:
        inside = dict(material) if policy is None else {**material, "policy": policy}
        body["sealed_input"] = base64.b64encode(seal(sealed_to, method, inside)).decode("ascii")
    else:
        body |= material
    if label is not None:
        body["label"] = label
    if tags is not None:
        body["tags"] = dict(tags)
    if policy is not None:
        body["policy"] = dict(policy)
    return json_body(body)


def _secret_or_new(secret: str | None) -> str:
    if secret is None:
        return secrets.token_hex(GENERATED_SECRET_BYTES)
    if not isinstance(secret, str) or not secret:
        raise BadRequest("secret must be non-empty text", field="secret")
    return secret


def _policy_json(policy: PolicyInput) -> dict[str, object] | None:
    if policy is None:
        return None
    return (policy if isinstance(policy, KeyPolicy) else KeyPolicy.from_json(policy)).to_json()


def _keystore_object(keystore: Mapping[str, object] | str) -> dict[str, object]:
    if isinstance(keystore, str):
        try:
            keystore = json.loads(keystore)
        except (ValueError, RecursionError):
            raise BadRequest("keystore is not JSON", field="keystore") from None
    if not isinstance(keystore, Mapping):
        raise BadRequest("keystore must be a JSON object", field="keystore")
    return dict(keystore)


def _key_path(key_id: str) -> str:
    return "/v1/keys/" + path_segment(key_id, "key_id")


def _key(answer: Any) -> KeyView:
    if not isinstance(answer, dict):
        raise UnexpectedResponse("a key answer is not a JSON object")
    return KeyView.from_json(answer.get("key"))


def _enclave_result(answer: Any) -> dict[str, str]:
    result = answer.get("enclave_result") if isinstance(answer, dict) else None
    return string_fields(result, "enclave_result")


def _document_bytes(document: object) -> bytes:
    if not isinstance(document, str):
        raise UnexpectedResponse("the attestation answer has no document")
    try:
        return base64.b64decode(document.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise UnexpectedResponse("the attestation document is not base64") from None

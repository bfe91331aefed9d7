"""The wallet methods in-process: keys created and imported (in the clear and sealed to the transport key),
and every sign operation authenticated, policy-checked and cross-checked against eth-account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from nitro_wallet.client.sealed_input import seal
from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.keyring import Keyring
from nitro_wallet.enclave.request_auth import ReplayGuard
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.enclave.wallet import Wallet
from nitro_wallet.wire.errors import BadRequest, Denied, NotFound
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.request_auth import reference_hmac, request_hmac
from nitro_wallet.wire.wallet import (
    KeyCreateParams,
    KeyImportParams,
    KeyRewrapParams,
    SealedKeyFields,
    SignOperation,
    SignParams,
)

SECRET = "a user secret of at least thirty-six characters"
KEY = "0x4ed3992ca0c7dda74dd9e77adec683afce86605866f1020c063b5ae1b67159c4"
NOW = 1_800_000_000
TO = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
VECTORS = Path(__file__).parents[2].parent / "shared" / "vectors"
ALL_OPERATIONS = KeyPolicy(unsafe_sign_digest=True)


class DataKeys:
    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def add(self) -> str:
        ref = key_ref(os.urandom(32))
        self.keys[ref] = os.urandom(32)
        return ref

    def get(self, ref: str) -> bytes:
        if ref not in self.keys:
            raise NotFound("no such data key", field="data_key_ref")
        return self.keys[ref]


class Rig:
    def __init__(self) -> None:
        self.data_keys = DataKeys()
        self.newest = self.data_keys.add()
        self.transport = TransportKey(os.urandom(32))
        self.clock_value = float(NOW)
        self.wallet = Wallet(
            Keyring(self.data_keys.get, os.urandom),
            lambda: self.newest,
            self.transport,
            guard=ReplayGuard(),
            clock=lambda: self.clock_value,
        )
        self.nonces = 0

    def import_key(self, policy: KeyPolicy = ALL_OPERATIONS, key: str = KEY) -> SealedKeyFields:
        return self.wallet.import_key(KeyImportParams(policy=policy.encode(), secret=SECRET, private_key=key))

    def sign(
        self,
        key: SealedKeyFields,
        operation: str,
        payload: Mapping[str, Any] | str,
        *,
        secret: str = SECRET,
        timestamp: int = NOW,
        nonce: str | None = None,
    ) -> dict[str, str]:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if nonce is None:
            self.nonces += 1
            nonce = f"nonce-{self.nonces:016d}"
        mac = request_hmac(secret, text, timestamp, nonce, key_id=key.key_id, operation=operation)
        params = SignParams(
            **key.to_wire(),
            operation=operation,
            payload=text,
            scheme="v1",
            timestamp=timestamp,
            hmac=mac,
            nonce=nonce,
        )
        return self.wallet.sign(params).fields


@pytest.fixture
def rig() -> Rig:
    return Rig()


def tx1559(**changes: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": 1,
        "nonce": 7,
        "to": TO,
        "value": 10**16,
        "gas": 21000,
        "maxFeePerGas": 30 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    return tx | changes


def raw_signature(digest_hex: str) -> str:
    return "0x" + Account.unsafe_sign_hash(bytes.fromhex(digest_hex[2:]), KEY).signature.hex()


# --- keys in --------------------------------------------------------------------------------------------


def test_import_in_the_clear_gives_the_eth_account_address(rig: Rig) -> None:
    key = rig.import_key()
    assert "0x" + key.address.hex() == Account.from_key(KEY).address.lower()
    assert KeyPolicy.decode(key.policy) == ALL_OPERATIONS
    assert key.data_key_ref == rig.newest


def test_new_keys_use_the_newest_data_key(rig: Rig) -> None:
    rig.newest = rig.data_keys.add()
    created = rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), secret=SECRET))
    assert created.data_key_ref == rig.newest
    assert rig.sign(created, SignOperation.MESSAGE, {"message": "hi", "encoding": "utf8"})["signature"]


def test_rewrap_moves_a_key_to_another_data_key_and_it_still_signs(rig: Rig) -> None:
    old = rig.import_key()
    rig.newest = rig.data_keys.add()
    params = KeyRewrapParams(**old.to_wire(), new_data_key_ref=rig.newest)
    moved = rig.wallet.rewrap(params)
    assert (moved.key_id, moved.address, moved.data_key_ref) == (old.key_id, old.address, rig.newest)
    payload = {"message": "after rewrap", "encoding": "utf8"}
    assert rig.sign(moved, SignOperation.MESSAGE, payload) == rig.sign(old, SignOperation.MESSAGE, payload)


def test_created_key_secret_must_be_long_enough(rig: Rig) -> None:
    with pytest.raises(BadRequest, match="at least 36 characters"):
        rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), secret="short"))


def test_sealed_create_signs_with_the_sealed_secret(rig: Rig) -> None:
    sealed = seal(rig.transport.public_key, KeyCreateParams.METHOD, {"secret": SECRET})
    key = rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), sealed_input=sealed))
    fields = rig.sign(key, SignOperation.MESSAGE, {"message": "sealed", "encoding": "utf8"})
    recovered = Account.recover_message(encode_defunct(text="sealed"), signature=fields["signature"])
    assert recovered.lower() == "0x" + key.address.hex()
    with pytest.raises(Denied, match="HMAC does not match"):
        rig.sign(key, SignOperation.MESSAGE, {"message": "x", "encoding": "utf8"}, secret=SECRET + "!")


def test_sealed_import_of_a_private_key_and_of_a_keystore(rig: Rig) -> None:
    sealed = seal(rig.transport.public_key, KeyImportParams.METHOD, {"secret": SECRET, "private_key": KEY})
    key = rig.wallet.import_key(KeyImportParams(policy=KeyPolicy().encode(), sealed_input=sealed))
    assert "0x" + key.address.hex() == Account.from_key(KEY).address.lower()
    keystore = Account.encrypt(KEY, "keystore password", kdf="pbkdf2", iterations=2)
    value = {"secret": SECRET, "keystore": keystore, "password": "keystore password"}
    sealed = seal(rig.transport.public_key, KeyImportParams.METHOD, value)
    from_keystore = rig.wallet.import_key(KeyImportParams(policy=KeyPolicy().encode(), sealed_input=sealed))
    assert from_keystore.address == key.address
    assert from_keystore.key_id != key.key_id


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"secret": SECRET, "private_key": KEY, "extra": 1}, "unknown field in sealed_input"),
        ({"secret": SECRET}, "exactly one of private_key and keystore"),
        ({"secret": 5, "private_key": KEY}, "sealed_input.secret must be text"),
        ({"secret": SECRET, "keystore": "{}", "password": "p"}, "keystore must be a JSON object"),
    ],
)
def test_sealed_import_refuses_malformed_contents(rig: Rig, value: dict[str, Any], message: str) -> None:
    sealed = seal(rig.transport.public_key, KeyImportParams.METHOD, value)
    with pytest.raises(BadRequest, match=message):
        rig.wallet.import_key(KeyImportParams(policy=KeyPolicy().encode(), sealed_input=sealed))


def test_sealed_input_opens_only_for_its_method_and_its_enclave(rig: Rig) -> None:
    for_import = seal(rig.transport.public_key, KeyImportParams.METHOD, {"secret": SECRET})
    with pytest.raises(BadRequest, match="does not open"):
        rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), sealed_input=for_import))
    other_enclave = TransportKey(os.urandom(32)).public_key
    elsewhere = seal(other_enclave, KeyCreateParams.METHOD, {"secret": SECRET})
    with pytest.raises(BadRequest, match="does not open"):
        rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), sealed_input=elsewhere))
    tampered = bytearray(seal(rig.transport.public_key, KeyCreateParams.METHOD, {"secret": SECRET}))
    tampered[-1] ^= 1
    with pytest.raises(BadRequest, match="does not open"):
        rig.wallet.create(KeyCreateParams(policy=KeyPolicy().encode(), sealed_input=bytes(tampered)))


def test_a_policy_sealed_by_the_client_cannot_be_changed_by_the_host(rig: Rig) -> None:
    strict = KeyPolicy(sign_message=False, chain_ids=frozenset({1}))
    value = {"secret": SECRET, "policy": strict.to_json()}
    sealed = seal(rig.transport.public_key, KeyCreateParams.METHOD, value)
    with pytest.raises(Denied, match="differs"):
        rig.wallet.create(KeyCreateParams(policy=ALL_OPERATIONS.encode(), sealed_input=sealed))
    key = rig.wallet.create(KeyCreateParams(policy=strict.encode(), sealed_input=sealed))
    assert KeyPolicy.decode(key.policy) == strict


def test_secret_and_sealed_input_are_exclusive() -> None:
    with pytest.raises(BadRequest, match="exactly one"):
        KeyCreateParams(policy=KeyPolicy().encode())
    with pytest.raises(BadRequest, match="exactly one"):
        KeyCreateParams(policy=KeyPolicy().encode(), secret=SECRET, sealed_input=b"x")
    with pytest.raises(BadRequest, match="go together"):
        KeyImportParams(policy=KeyPolicy().encode(), secret=SECRET)
    assert SECRET not in repr(KeyImportParams(policy=b"", secret=SECRET, private_key=KEY))
    assert KEY not in repr(KeyImportParams(policy=b"", secret=SECRET, private_key=KEY))


# --- signatures, cross-checked with eth-account ----------------------------------------------------------


@pytest.mark.parametrize(
    "tx",
    [
        tx1559(),
        {"chainId": 1, "nonce": 0, "to": TO, "value": 1, "gas": 21000, "gasPrice": 10**9},
        {"type": 1, "chainId": 5, "nonce": 1, "to": TO, "value": 0, "gas": 30000, "gasPrice": 10**9,
         "accessList": [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}]},
        tx1559(data="0xa9059cbb", value="12345678901234567891"),
    ],
    ids=["type2", "legacy", "type1", "decimal-string-value"],
)  # fmt: skip
def test_transactions_match_eth_account(rig: Rig, tx: dict[str, Any]) -> None:
    fields = rig.sign(rig.import_key(), SignOperation.TRANSACTION, tx)
    oracle_tx = dict(tx)
    oracle_tx["value"] = int(oracle_tx["value"])
    expected = Account.sign_transaction(oracle_tx, KEY)
    assert fields["raw_transaction"] == "0x" + expected.raw_transaction.hex()
    assert fields["transaction_hash"] == "0x" + expected.hash.hex()
    assert int(fields["v"]) == expected.v
    assert int(fields["r"], 16) == expected.r
    assert int(fields["s"], 16) == expected.s


def test_reference_transactions_take_value_in_ether_exactly(rig: Rig) -> None:
    text = (
        '{"chainId":5,"gas":100000,"maxFeePerGas":100000000000,"maxPriorityFeePerGas":3000000000,'
        '"nonce":0,"to":"0xa5D3241A1591061F2a4bB69CA0215F66520E67cf","type":2,"value":0.01}'
    )
    fields = rig.sign(rig.import_key(), SignOperation.REFERENCE_TRANSACTION, text)
    oracle = json.loads(text) | {"value": 10**16}
    assert fields["raw_transaction"] == "0x" + Account.sign_transaction(oracle, KEY).raw_transaction.hex()


def test_authorization_matches_eth_account(rig: Rig) -> None:
    payload = {"chainId": 1, "address": TO, "nonce": 3}
    fields = rig.sign(rig.import_key(), SignOperation.AUTHORIZATION, payload)
    expected = Account.sign_authorization({"chainId": 1, "address": TO, "nonce": 3}, KEY)
    assert (int(fields["r"], 16), int(fields["s"], 16), int(fields["yParity"], 16)) == (
        expected.r,
        expected.s,
        expected.y_parity,
    )


def test_messages_and_typed_data_match_eth_account(rig: Rig) -> None:
    key = rig.import_key()
    fields = rig.sign(key, SignOperation.MESSAGE, {"message": "hello enclave", "encoding": "utf8"})
    expected = Account.sign_message(encode_defunct(text="hello enclave"), KEY)
    assert fields["signature"] == "0x" + expected.signature.hex()
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Mail": [{"name": "contents", "type": "string"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail", "chainId": 1},
        "message": {"contents": "Hello, Bob!"},
    }
    fields = rig.sign(key, SignOperation.TYPED_DATA, typed)
    expected = Account.sign_message(encode_typed_data(full_message=typed), KEY)
    assert fields["signature"] == "0x" + expected.signature.hex()


def test_user_operation_hash_the_standard_way_and_the_reference_way(rig: Rig) -> None:
    key = rig.import_key()
    op_hash = "0xf3df4bcb3b24437160ba86a88f41d522662ed994dddd11ac477cfc16e9a71869"
    standard = rig.sign(key, SignOperation.USER_OPERATION_HASH, {"userOpHash": op_hash})
    expected = Account.sign_message(encode_defunct(primitive=bytes.fromhex(op_hash[2:])), KEY)
    assert standard["signature"] == "0x" + expected.signature.hex()
    raw = rig.sign(key, SignOperation.REFERENCE_USER_OPERATION_HASH, {"userOpHash": op_hash})
    assert raw["signature"] == raw_signature(op_hash)


def test_reference_user_operation_vector(rig: Rig) -> None:
    path = VECTORS / "ethereum" / "seed_userop_raw_hash.json"
    if not path.exists():
        pytest.skip(f"the shared vectors are not beside the project ({path})")
    vector = json.loads(path.read_text())
    key = rig.import_key(key=vector["private_key"])
    payload = {"userOpHash": vector["user_op_hash"]}
    fields = rig.sign(key, SignOperation.REFERENCE_USER_OPERATION_HASH, payload)
    assert fields["signature"] == vector["signature"]


def test_full_user_operation_is_hashed_here_and_signed_as_a_message(rig: Rig) -> None:
    op = {
        "sender": TO,
        "nonce": 0,
        "callData": "0x",
        "callGasLimit": 100000,
        "verificationGasLimit": 100000,
        "preVerificationGas": 50000,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    payload = {
        "userOperation": op,
        "entryPoint": "0x0000000071727De22E5E9d8BAf0edAc6f37da032",
        "chainId": 11155111,
        "entryPointVersion": "v0.7",
    }
    fields = rig.sign(rig.import_key(), SignOperation.USER_OPERATION, payload)
    op_hash = bytes.fromhex(fields["user_op_hash"][2:])
    expected = Account.sign_message(encode_defunct(primitive=op_hash), KEY)
    assert fields["signature"] == "0x" + expected.signature.hex()


def test_unsafe_digest_needs_its_policy_flag(rig: Rig) -> None:
    digest = "0x" + "ab" * 32
    default_key = rig.import_key(policy=KeyPolicy())
    with pytest.raises(Denied, match="does not allow unsafe_sign_digest"):
        rig.sign(default_key, SignOperation.UNSAFE_DIGEST, {"digest": digest})
    with pytest.raises(Denied, match="does not allow unsafe_sign_digest"):
        rig.sign(default_key, SignOperation.REFERENCE_USER_OPERATION_HASH, {"userOpHash": digest})
    fields = rig.sign(rig.import_key(), SignOperation.UNSAFE_DIGEST, {"digest": digest})
    assert fields["signature"] == raw_signature(digest)


def test_chain_restricted_key(rig: Rig) -> None:
    key = rig.import_key(policy=KeyPolicy(chain_ids=frozenset({1})))
    assert rig.sign(key, SignOperation.TRANSACTION, tx1559(chainId=1))["raw_transaction"]
    with pytest.raises(Denied, match="chain id 5"):
        rig.sign(key, SignOperation.TRANSACTION, tx1559(chainId=5))


# --- authentication --------------------------------------------------------------------------------------


def test_replayed_nonce_is_refused(rig: Rig) -> None:
    key = rig.import_key()
    rig.sign(key, SignOperation.TRANSACTION, tx1559(), nonce="the-same-nonce-twice")
    with pytest.raises(Denied, match="nonce already used"):
        rig.sign(key, SignOperation.TRANSACTION, tx1559(), nonce="the-same-nonce-twice")


@pytest.mark.parametrize(("offset", "word"), [(-61, "in the past"), (61, "in the future")])
def test_stale_and_future_requests_are_refused(rig: Rig, offset: int, word: str) -> None:
    key = rig.import_key()
    with pytest.raises(Denied, match=word):
        rig.sign(key, SignOperation.TRANSACTION, tx1559(), timestamp=NOW + offset)
    assert rig.sign(key, SignOperation.TRANSACTION, tx1559(), timestamp=NOW + offset // 61 * 60)


def test_hmac_binds_the_operation(rig: Rig) -> None:
    key = rig.import_key()
    payload = json.dumps({"digest": "0x" + "11" * 32})
    operation = SignOperation.UNSAFE_DIGEST
    mac = request_hmac(SECRET, payload, NOW, "n" * 16, key_id=key.key_id, operation=operation)
    params = SignParams(
        **key.to_wire(),
        operation=SignOperation.REFERENCE_USER_OPERATION_HASH,
        payload=payload.replace("digest", "userOpHash"),
        scheme="v1",
        timestamp=NOW,
        hmac=mac,
        nonce="n" * 16,
    )
    with pytest.raises(Denied, match="HMAC does not match"):
        rig.wallet.sign(params)


def test_reference_scheme_allows_identical_requests_back_to_back(rig: Rig) -> None:
    key = rig.import_key()
    payload = json.dumps({"userOpHash": "0x" + "22" * 32})
    params = SignParams(
        **key.to_wire(),
        operation=SignOperation.REFERENCE_USER_OPERATION_HASH,
        payload=payload,
        scheme="reference",
        timestamp=NOW,
        hmac=reference_hmac(SECRET, payload, NOW),
    )
    assert rig.wallet.sign(params) == rig.wallet.sign(params)
    with pytest.raises(BadRequest, match="no nonce"):
        rig.wallet.sign(SignParams(**{**params.to_wire(), "nonce": "n" * 16}))


def test_swapped_blobs_are_refused(rig: Rig) -> None:
    first = rig.import_key()
    second = rig.wallet.create(KeyCreateParams(policy=ALL_OPERATIONS.encode(), secret=SECRET))
    swapped = SealedKeyFields(**{**first.to_wire(), "blob": second.blob})
    with pytest.raises(Denied, match="does not match its key id, address or policy"):
        rig.sign(swapped, SignOperation.TRANSACTION, tx1559())


def test_edited_policy_is_refused(rig: Rig) -> None:
    key = rig.import_key(policy=KeyPolicy())
    widened = SealedKeyFields(**{**key.to_wire(), "policy": ALL_OPERATIONS.encode()})
    with pytest.raises(Denied, match="does not match its key id, address or policy"):
        rig.sign(widened, SignOperation.UNSAFE_DIGEST, {"digest": "0x" + "33" * 32})


def test_the_payload_is_read_once_for_the_hmac_and_the_signature(rig: Rig) -> None:
    """Re-spaced, re-ordered text with the numbers written as JSON numbers, fractions included: the MAC over
    its canonical form verifies and the transaction signed is the one the text means."""
    key = rig.import_key()
    text = (
        ' { "value" : 10000000000000000 , "type":2,"to":"' + TO + '", "nonce":7.0,'
        ' "maxPriorityFeePerGas":1E9, "maxFeePerGas":30000000000, "gas":21000, "chainId":1 } '
    )
    signed = rig.sign(key, SignOperation.TRANSACTION, text)
    expected = Account.sign_transaction(tx1559(), KEY).raw_transaction.to_0x_hex()
    assert signed["raw_transaction"] == expected


def test_a_number_longer_than_python_reads_as_an_int_is_a_bad_request(rig: Rig) -> None:
    key = rig.import_key()
    text = json.dumps(tx1559()).replace('"value": 10000000000000000', '"value": 1' + "0" * 5000)
    with pytest.raises(BadRequest) as error:
        rig.sign(key, SignOperation.TRANSACTION, text)
    assert error.value.field == "value"


def test_bad_payloads_name_the_field(rig: Rig) -> None:
    key = rig.import_key()
    with pytest.raises(BadRequest) as error:
        rig.sign(key, SignOperation.TRANSACTION, tx1559(to="0xA5d3241A1591061F2a4bB69CA0215F66520E67cf"))
    assert error.value.field == "to"
    with pytest.raises(BadRequest, match="duplicate key"):
        rig.sign(key, SignOperation.MESSAGE, '{"message":"a","message":"b","encoding":"utf8"}')
    with pytest.raises(BadRequest, match="unknown sign operation"):
        SignParams(**key.to_wire(), operation="eth.all", payload="{}", scheme="v1", timestamp=NOW, hmac="")

"""The validator methods in-process: keystores imported (in the clear and sealed to the transport key), every
Web3Signer OpenAPI example signed and the signature verified with py_ecc over the example's own signing root,
request bodies decoded strictly, and slashing protection on the signing path.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle

from nitro_wallet.client.sealed_input import seal
from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.eth2.keyring import ValidatorKeyring
from nitro_wallet.enclave.eth2.signer import MAX_REQUEST_NESTING_DEPTH, ValidatorSigner, decode_request
from nitro_wallet.enclave.eth2.watermarks import Watermarks
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.wire.errors import BadRequest, Denied, NotFound, SigningRootMismatch, SlashingProtection
from nitro_wallet.wire.eth2 import (
    Eth2SignParams,
    Eth2SignResult,
    SealedValidatorFields,
    ValidatorImportParams,
)

from .signing.conftest import sign_examples
from .signing.test_openapi_examples import (
    EXAMPLE_GENESIS_FORK_VERSION,
    KNOWN_BAD_ROOTS,
    MINIMAL_ONLY,
)

Json = dict[str, Any]
BuildKeystore = Callable[..., dict[str, Any]]
PASSWORD = "a validator's password"
EXAMPLES = sign_examples()


class DataKeys:
    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def add(self) -> str:
        ref = key_ref(os.urandom(64))
        self.keys[ref] = os.urandom(32)
        return ref

    def get(self, ref: str) -> bytes:
        if ref not in self.keys:
            raise NotFound("no such data key", field="data_key_ref")
        return self.keys[ref]


class Rig:
    def __init__(self, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]) -> None:
        self.data_keys = DataKeys()
        self.newest = self.data_keys.add()
        self.transport = TransportKey(os.urandom(32))
        self.watermarks = Watermarks()
        self.signer = ValidatorSigner(
            ValidatorKeyring(self.data_keys.get, os.urandom),
            self.watermarks,
            lambda: self.newest,
            self.transport,
        )
        self.build_keystore = build_keystore
        self.random_secret = random_secret

    def keystore(self) -> Json:
        return self.build_keystore(self.random_secret(), PASSWORD)

    def import_clear(self, keystore: Json | None = None) -> SealedValidatorFields:
        text = json.dumps(self.keystore() if keystore is None else keystore)
        return self.signer.import_(ValidatorImportParams(keystore=text, password=PASSWORD))

    def sign(
        self,
        key: SealedValidatorFields,
        body: Json | str,
        *,
        preset: str = "mainnet",
        genesis_fork_version: bytes = EXAMPLE_GENESIS_FORK_VERSION,
    ) -> Eth2SignResult:
        params = Eth2SignParams(
            pubkey=key.pubkey,
            data_key_ref=key.data_key_ref,
            blob=key.blob,
            request=body if isinstance(body, str) else json.dumps(body),
            genesis_fork_version=genesis_fork_version,
            preset=preset,
        )
        return self.signer.sign(params)


@pytest.fixture
def rig(build_keystore: BuildKeystore, random_secret: Callable[[], bytes]) -> Rig:
    return Rig(build_keystore, random_secret)


def example(name: str) -> Json:
    if name not in EXAMPLES:
        pytest.skip("shared vectors not found (sign.yaml)")
    return json.loads(json.dumps(EXAMPLES[name]))  # a copy


def attestation(source: int, target: int, *, block_root: str = "0x" + "11" * 32) -> Json:
    body = example("ATTESTATION")
    del body["signingRoot"]
    body["attestation"]["source"]["epoch"] = str(source)
    body["attestation"]["target"]["epoch"] = str(target)
    body["attestation"]["beacon_block_root"] = block_root
    return body


def block_slot(body: Json) -> int:
    if "block" in body:
        return int(body["block"]["slot"])
    block = body["beacon_block"]
    return int((block.get("block") or block["block_header"])["slot"])


# --- every signing type, against the OpenAPI examples ------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES) or ["(no vectors)"])
def test_every_example_is_signed_over_its_own_signing_root(rig: Rig, name: str) -> None:
    body = example(name)
    key = rig.import_clear()
    preset = "minimal" if name in MINIMAL_ONLY else "mainnet"
    if name in KNOWN_BAD_ROOTS:  # the example's root is not its message's: refused, then signed without it
        with pytest.raises(SigningRootMismatch):
            rig.sign(key, body, preset=preset)
        del body["signingRoot"]
    expected_root = KNOWN_BAD_ROOTS.get(name, body.get("signingRoot"))
    result = rig.sign(key, body, preset=preset)
    assert "0x" + result.signing_root.hex() == expected_root
    assert Oracle.Verify(key.pubkey, result.signing_root, result.signature)
    assert result.type == body["type"]
    if "fork_info" in body and body["type"] not in ("DEPOSIT", "VALIDATOR_REGISTRATION"):
        assert (
            "0x" + (result.genesis_validators_root or b"").hex()
            == body["fork_info"]["genesis_validators_root"]
        )
    else:
        assert result.genesis_validators_root is None
    if body["type"] in ("BLOCK", "BLOCK_V2"):
        assert result.slot == block_slot(body)
    else:
        assert result.slot is None
    if body["type"] == "ATTESTATION":
        vote = body["attestation"]
        assert (result.source_epoch, result.target_epoch) == (
            int(vote["source"]["epoch"]),
            int(vote["target"]["epoch"]),
        )
    else:
        assert result.source_epoch is result.target_epoch is None


def test_a_wrong_signing_root_is_refused_and_signs_nothing(rig: Rig) -> None:
    key = rig.import_clear()
    body = example("ATTESTATION")
    correct = body["signingRoot"]
    body["signingRoot"] = "0x" + "00" * 32
    with pytest.raises(SigningRootMismatch) as caught:
        rig.sign(key, body)
    assert caught.value.field == "signingRoot"
    assert len(rig.watermarks) == 0
    body["signingRoot"] = correct
    assert Oracle.Verify(key.pubkey, bytes.fromhex(correct[2:]), rig.sign(key, body).signature)


def test_the_configured_genesis_fork_version_and_preset_are_used(rig: Rig) -> None:
    key = rig.import_clear()
    with pytest.raises(SigningRootMismatch):  # its root was computed with 0x00000001
        rig.sign(key, example("VALIDATOR_REGISTRATION"), genesis_fork_version=bytes(4))
    with pytest.raises(BadRequest, match="aggregation_bits"):  # minimal-sized bits under mainnet
        rig.sign(key, example("SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF"), preset="mainnet")


# --- slashing protection on the signing path ---------------------------------------------------------------


def test_a_double_vote_is_refused_and_the_identical_vote_signed_again(rig: Rig) -> None:
    key = rig.import_clear()
    first = rig.sign(key, attestation(5, 10))
    assert (first.source_epoch, first.target_epoch) == (5, 10)
    with pytest.raises(SlashingProtection, match="double vote"):
        rig.sign(key, attestation(5, 10, block_root="0x" + "22" * 32))
    with pytest.raises(SlashingProtection, match="surround"):
        rig.sign(key, attestation(4, 11))
    assert rig.sign(key, attestation(5, 10)).signature == first.signature
    other = rig.import_clear()  # another validator's marks are its own
    rig.sign(other, attestation(5, 10, block_root="0x" + "22" * 32))


def test_a_second_block_at_a_signed_slot_is_refused(rig: Rig) -> None:
    key = rig.import_clear()
    body = example("BLOCK_V2 (DENEB)")
    rig.sign(key, body)
    del body["signingRoot"]
    body["beacon_block"]["block_header"]["state_root"] = "0x" + "ee" * 32
    with pytest.raises(SlashingProtection, match="different block at slot"):
        rig.sign(key, body)


def test_a_sealed_key_that_does_not_unseal_is_denied_and_moves_no_mark(rig: Rig) -> None:
    a, b = rig.import_clear(), rig.import_clear()
    swapped = dataclasses.replace(a, blob=b.blob)
    with pytest.raises(Denied):
        rig.sign(swapped, attestation(5, 10))
    assert len(rig.watermarks) == 0
    rig.sign(a, attestation(1, 2))


# --- strict request bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"type": "ATTESTATION", "type": "BLOCK"}', "repeats the key 'type'"),
        ('{"type": "ATTESTATION", "fork_info": {"fork": 1, "fork": 2}}', "repeats the key 'fork'"),
        ('{"type": "ATTESTATION", "x": NaN}', "NaN"),
        ('{"type": "ATTESTATION", "x": Infinity}', "Infinity"),
        ('{"type": "ATTESTATION", "x": -Infinity}', "-Infinity"),
        ('{"type": "ATTESTATION", "x": ' + "9" * 5000 + "}", "too long"),
        ('{"type": "ATTESTATION",}', "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_ambiguous_or_malformed_bodies_are_bad_requests(rig: Rig, text: str, reason: str) -> None:
    key = rig.import_clear()
    with pytest.raises(BadRequest, match=reason) as caught:
        rig.sign(key, text)
    assert caught.value.field == "request"


def test_numbers_stay_exact(rig: Rig) -> None:
    key = rig.import_clear()
    body = attestation(5, 10)
    text = json.dumps(body).replace('"slot": "32"', '"slot": 18446744073709551616')  # 2**64: no float
    with pytest.raises(BadRequest, match="uint64") as caught:
        rig.sign(key, text)
    assert caught.value.field == "attestation.slot"
    with pytest.raises(BadRequest, match="decimal string"):
        rig.sign(key, json.dumps(body).replace('"slot": "32"', '"slot": 32.0'))
    result = rig.sign(key, json.dumps(body).replace('"slot": "32"', '"slot": 18446744073709551615'))
    assert Oracle.Verify(key.pubkey, result.signing_root, result.signature)


def test_nesting_is_bounded_at_n() -> None:
    assert MAX_REQUEST_NESTING_DEPTH == 16
    depth = MAX_REQUEST_NESTING_DEPTH
    assert decode_request("[" * depth + "]" * depth) is not None
    with pytest.raises(BadRequest, match="deeper than 16 levels"):
        decode_request("[" * (depth + 1) + "]" * (depth + 1))
    with pytest.raises(BadRequest, match="deeper than 16 levels"):
        decode_request('{"a":' * 100_000 + "1" + "}" * 100_000)


# --- keystores in ------------------------------------------------------------------------------------------


def test_a_clear_import_is_sealed_under_the_newest_data_key(rig: Rig) -> None:
    keystore = rig.keystore()
    key = rig.import_clear(keystore)
    assert key.pubkey.hex() == keystore["pubkey"]
    assert key.data_key_ref == rig.newest
    rig.newest = rig.data_keys.add()
    assert rig.import_clear(keystore).data_key_ref == rig.newest


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "text"])
def test_a_sealed_import_round_trips(rig: Rig, as_text: bool) -> None:
    keystore = rig.keystore()
    value = {"keystore": json.dumps(keystore) if as_text else keystore, "password": PASSWORD}
    sealed = seal(rig.transport.public_key, ValidatorImportParams.METHOD, value)
    key = rig.signer.import_(ValidatorImportParams(sealed_input=sealed))
    assert key.pubkey.hex() == keystore["pubkey"]
    result = rig.sign(key, attestation(5, 10))
    assert Oracle.Verify(key.pubkey, result.signing_root, result.signature)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"keystore": {}, "password": PASSWORD, "extra": 1}, "exactly keystore and password"),
        ({"keystore": {}}, "exactly keystore and password"),
        ({"password": PASSWORD}, "exactly keystore and password"),
        ({"keystore": 5, "password": PASSWORD}, "sealed_input.keystore must be a JSON object or JSON text"),
        ({"keystore": [], "password": PASSWORD}, "sealed_input.keystore must be a JSON object or JSON text"),
        ({"keystore": {}, "password": 5}, "sealed_input.password must be text"),
        ({"keystore": "{", "password": PASSWORD}, "keystore is not valid JSON"),
    ],
)
def test_sealed_import_refuses_malformed_contents(rig: Rig, value: Json, message: str) -> None:
    sealed = seal(rig.transport.public_key, ValidatorImportParams.METHOD, value)
    with pytest.raises(BadRequest, match=message):
        rig.signer.import_(ValidatorImportParams(sealed_input=sealed))


def test_a_sealed_import_opens_only_for_its_method_and_its_enclave(rig: Rig) -> None:
    value = {"keystore": rig.keystore(), "password": PASSWORD}
    for_other_method = seal(rig.transport.public_key, "keys.import", value)
    other_enclave = seal(TransportKey(os.urandom(32)).public_key, ValidatorImportParams.METHOD, value)
    for sealed in (for_other_method, other_enclave):
        with pytest.raises(BadRequest, match="does not open"):
            rig.signer.import_(ValidatorImportParams(sealed_input=sealed))


def test_a_wrong_password_is_denied_in_either_form(rig: Rig) -> None:
    keystore = rig.keystore()
    with pytest.raises(Denied):
        rig.signer.import_(ValidatorImportParams(keystore=json.dumps(keystore), password="wrong"))
    sealed = seal(
        rig.transport.public_key, ValidatorImportParams.METHOD, {"keystore": keystore, "password": "x"}
    )
    with pytest.raises(Denied):
        rig.signer.import_(ValidatorImportParams(sealed_input=sealed))


def test_no_data_key_yet_is_not_found(rig: Rig) -> None:
    rig.newest = key_ref(b"never loaded")
    with pytest.raises(NotFound):
        rig.import_clear()

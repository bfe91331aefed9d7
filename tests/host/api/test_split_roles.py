"""The split layout (the AWS reference's): a generator enclave makes keys, the signer adopts and uses them;
validator keystores are sealed to the signer (GET /v1/attestation?method=validators.import), which opens them.

Real processes: the session's KMS emulator with a key whose policy lets the generator's PCR0 only generate
wallet-key data keys and the signer's PCR0 decrypt; two enclave processes measured with their roles. The
API runs over `SplitEnclaves`, as `nitro-wallet up --split-roles` serves it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import rlp
from botocore.exceptions import ClientError
from eth_account import Account
from py_ecc.bls import G2ProofOfPossession
from starlette.applications import Starlette

from nitro_wallet.attestation.document import parse
from nitro_wallet.client.validator_import import seal_keystore
from nitro_wallet.enclave import measurement
from nitro_wallet.enclave.kms import AttestedKms, KmsCredentials
from nitro_wallet.host import key_policy
from nitro_wallet.host.api.keymanager import KEYSTORES_PATH
from nitro_wallet.host.auth import Permission
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient, SplitEnclaves
from nitro_wallet.host.slashing import SqliteSlashingStore
from nitro_wallet.wire.errors import BadRequest, Denied, KmsDenied, UnknownMethod
from nitro_wallet.wire.eth2_networks import NETWORKS
from nitro_wallet.wire.methods import DATA_KEY_CONTEXT, WALLET_KEY_CONTEXT
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyCreateParams, WrappedKeyFields
from support import attest, processes
from support.eth_examples import REFERENCE_TRANSACTION

from .conftest import REGION, Stack
from .test_keymanager import PASSWORD, RANDAO_REVEAL, SIGN, Key, statuses
from .test_keys import seal_for

pytestmark = pytest.mark.anyio

SECRET = "split-roles-secret-0123456789abcdef-0123456789"
PRIVATE_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KM_TOKEN = "c3" * 32


@dataclass(frozen=True)
class Split:
    key_arn: str
    signer: str  # enclave addresses
    generator: str
    generator_pcr0: bytes
    signer_pcr0: bytes


async def _bootstrap(split: Split, state: Stack) -> None:
    async with EnclaveChannel(split.signer) as signer, EnclaveChannel(split.generator) as generator:
        await EnclaveClient(signer).set_kms_credentials(**processes.profile(state.state_dir, "enclave"))
        await EnclaveClient(signer).generate_data_key()
        await EnclaveClient(generator).set_kms_credentials(**processes.profile(state.state_dir, "generator"))


@pytest.fixture(scope="module")
def split(stack: Stack) -> Iterator[Split]:
    admin = processes.kms_client(stack.state_dir, stack.kms_url)
    key_arn: str = admin.create_key(Policy=json.dumps(key_policy.admin_policy()))["KeyMetadata"]["Arn"]
    pcr0 = {
        role: measurement.measure(processes.image(stack.kms_url, key_arn, role=role)).pcr0
        for role in ("signer", "generator")
    }
    policy = key_policy.key_policy(
        pcr0=pcr0["signer"].hex(), generator_pcr0=pcr0["generator"].hex(), encrypt_principal=None
    )
    admin.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    with (
        processes.enclave(stack.state_dir, stack.kms_url, key_arn, name="signer", role="signer") as signer,
        processes.enclave(
            stack.state_dir, stack.kms_url, key_arn, name="generator", role="generator"
        ) as generator,
    ):
        made = Split(key_arn, signer, generator, pcr0["generator"], pcr0["signer"])
        asyncio.run(_bootstrap(made, stack))
        yield made


@pytest.fixture
async def enclave(split: Split) -> AsyncIterator[EnclaveClient]:
    """Overrides conftest's: the API's enclave is the pair."""
    async with EnclaveChannel(split.signer) as signer, EnclaveChannel(split.generator) as generator:
        yield SplitEnclaves(signer, EnclaveClient(generator))


def enclave_kms(stack: Stack, split: Split, *, pcr0: bytes, profile: str) -> AttestedKms:
    """An enclave's KMS client in this process, with the given measurement and principal."""
    nsm = attest.nsm(stack.state_dir, pcr0=pcr0)
    kms = AttestedKms(nsm, endpoint_url=stack.kms_url, region=REGION, key_arn=split.key_arn)
    kms.set_credentials(KmsCredentials(**processes.profile(stack.state_dir, profile)))
    return kms


async def sign_reference(client: httpx.AsyncClient, key_id: str) -> Any:
    body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": SECRET}
    response = await client.post(f"/key/{key_id}/tx_signature", json=body)
    assert response.status_code == 200, response.text
    return response.json()["enclave_result"]


# --- through the API -------------------------------------------------------------------------------------


async def test_reference_generate_then_sign(client: httpx.AsyncClient) -> None:
    response = await client.post("/key", json={"secret": SECRET})
    assert response.status_code == 200, response.text
    key = response.json()["enclave_result"]
    signed = await sign_reference(client, key["key_id"])
    assert Account.recover_transaction(signed["tx_signed"]) == key["address"]
    fields = rlp.decode(bytes.fromhex(signed["tx_signed"][4:]))
    assert int.from_bytes(fields[6], "big") == 10**16  # value: 0.01 ether exactly


async def test_reference_import_keeps_the_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/key", json={"secret": SECRET, "eth_key": PRIVATE_KEY})
    assert response.status_code == 200, response.text
    key = response.json()["enclave_result"]
    assert key["address"] == Account.from_key(PRIVATE_KEY).address
    signed = await sign_reference(client, key["key_id"])
    assert Account.recover_transaction(signed["tx_signed"]) == key["address"]


async def test_sealed_input_is_sealed_to_the_generator(client: httpx.AsyncClient, split: Split) -> None:
    sealed = await seal_for(client, "keys.create", {"secret": SECRET})
    response = await client.post("/v1/keys", json={"sealed_input": sealed, "label": "split"})
    assert response.status_code == 201, response.text
    key = response.json()["key"]
    assert key["label"] == "split"
    signed = await sign_reference(client, key["key_id"])
    assert Account.recover_transaction(signed["tx_signed"]) == key["address"]

    def transport_key(document: bytes) -> bytes | None:
        return parse(document).document.public_key

    served = (await client.get("/v1/attestation", params={"nonce": "00"})).json()["document"]
    async with EnclaveChannel(split.generator) as generator, EnclaveChannel(split.signer) as signer:
        from_generator = await EnclaveClient(generator).attest(b"\x00")
        from_signer = await EnclaveClient(signer).attest(b"\x00")
    assert transport_key(base64.b64decode(served)) == transport_key(from_generator)
    assert transport_key(from_generator) != transport_key(from_signer)


# --- each enclave does its part only ---------------------------------------------------------------------


async def test_each_role_answers_only_its_methods(split: Split) -> None:
    params = KeyCreateParams(policy=KeyPolicy().encode(), secret=SECRET)
    async with EnclaveChannel(split.signer) as signer, EnclaveChannel(split.generator) as generator:
        with pytest.raises(UnknownMethod):
            await EnclaveClient(signer).create_key(params)
        with pytest.raises(UnknownMethod):
            await EnclaveClient(generator).generate_data_key()
        with pytest.raises(UnknownMethod):
            await EnclaveClient(generator).load_data_key(b"\x01" * 64)
        assert (await EnclaveClient(signer).describe()).role == "signer"


async def wrapped_key(split: Split) -> WrappedKeyFields:
    async with EnclaveChannel(split.generator) as channel:
        params = KeyCreateParams(policy=KeyPolicy().encode(), secret=SECRET)
        return await EnclaveClient(channel).generate_key(params)


async def test_the_generator_cannot_open_what_it_made(stack: Stack, split: Split) -> None:
    wrapped = await wrapped_key(split)
    generator = enclave_kms(stack, split, pcr0=split.generator_pcr0, profile="generator")
    with pytest.raises(KmsDenied):
        generator.decrypt_data_key(wrapped.data_key_blob, WALLET_KEY_CONTEXT)
    with pytest.raises(KmsDenied):  # nor mint a data key the signer would load as its own
        generator.generate_data_key(DATA_KEY_CONTEXT)
    blob, _ = generator.generate_data_key(WALLET_KEY_CONTEXT)
    assert blob


async def test_only_the_signers_measurement_decrypts(stack: Stack, split: Split) -> None:
    wrapped = await wrapped_key(split)
    impostor = enclave_kms(stack, split, pcr0=split.generator_pcr0, profile="enclave")
    with pytest.raises(KmsDenied):
        impostor.decrypt_data_key(wrapped.data_key_blob, WALLET_KEY_CONTEXT)
    signer = enclave_kms(stack, split, pcr0=split.signer_pcr0, profile="enclave")
    assert len(signer.decrypt_data_key(wrapped.data_key_blob, WALLET_KEY_CONTEXT)) == 32


@pytest.mark.parametrize("profile", ["generator", "enclave", "default"])
async def test_the_host_cannot_plant_a_wallet_key_data_key(stack: Stack, split: Split, profile: str) -> None:
    kms = processes.kms_client(stack.state_dir, stack.kms_url, profile)
    for call, arguments in (
        ("encrypt", {"Plaintext": b"\x07" * 32}),
        ("generate_data_key", {"KeySpec": "AES_256"}),  # no Recipient: no attestation
    ):
        with pytest.raises(ClientError) as refused:
            getattr(kms, call)(KeyId=split.key_arn, EncryptionContext=dict(WALLET_KEY_CONTEXT), **arguments)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


async def test_adopt_refuses_a_blob_or_data_key_that_do_not_belong(split: Split) -> None:
    first, second = await wrapped_key(split), await wrapped_key(split)
    async with EnclaveChannel(split.signer) as channel:
        signer = EnclaveClient(channel)
        with pytest.raises(BadRequest) as mismatch:
            await signer.adopt_key(WrappedKeyFields(**{**vars(first), "data_key_blob": second.data_key_blob}))
        assert mismatch.value.field == "data_key_ref"
        swapped = WrappedKeyFields(
            **{**vars(first), "data_key_ref": second.data_key_ref, "data_key_blob": second.data_key_blob}
        )
        with pytest.raises(Denied):  # an authentic data key, another key's blob: the seal does not open
            await signer.adopt_key(swapped)
        adopted = await signer.adopt_key(first)
    assert adopted.key_id == first.key_id
    assert adopted.address == first.address
    assert adopted.data_key_ref != first.data_key_ref  # now under the signer's own data key


# --- validator keys: sealed to the signer, which opens validators.import ----------------------------------


def served_transport_key(response: httpx.Response) -> bytes:
    assert response.status_code == 200, response.text
    public_key = parse(base64.b64decode(response.json()["document"])).document.public_key
    assert public_key is not None
    return public_key


async def test_attestation_comes_from_the_enclave_that_opens_the_method(
    client: httpx.AsyncClient, split: Split
) -> None:
    async with EnclaveChannel(split.generator) as generator, EnclaveChannel(split.signer) as signer:
        keys = {
            "generator": parse(await EnclaveClient(generator).attest(b"\x00")).document.public_key,
            "signer": parse(await EnclaveClient(signer).attest(b"\x00")).document.public_key,
        }
    for method, role in (
        (None, "generator"),
        ("keys.create", "generator"),
        ("keys.import", "generator"),
        ("validators.import", "signer"),
    ):
        query = {"nonce": "00"} if method is None else {"nonce": "00", "method": method}
        assert served_transport_key(await client.get("/v1/attestation", params=query)) == keys[role], method
    refused = await client.get("/v1/attestation", params={"nonce": "00", "method": "keys.adopt"})
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "method"


async def test_a_sealed_validator_import_opens_in_the_signer_only(
    make_app: Callable[..., Starlette], connect: Callable[..., httpx.AsyncClient], tmp_path: Path
) -> None:
    validators = SqliteSlashingStore(tmp_path / "validators.sqlite3")
    try:
        app = make_app(validators=validators, eth2_network=NETWORKS["minimal"], keymanager_token=KM_TOKEN)
        api = connect(*Permission, on=app)
        to_signer = served_transport_key(
            await api.get("/v1/attestation", params={"nonce": "01", "method": "validators.import"})
        )
        to_generator = served_transport_key(await api.get("/v1/attestation", params={"nonce": "01"}))
        right, wrong = Key(), Key()
        body = {
            "sealed_keystores": [
                seal_keystore(to_signer, right.keystore, PASSWORD),
                seal_keystore(to_generator, wrong.keystore, PASSWORD),
            ]
        }
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                KEYSTORES_PATH, json=body, headers={"Authorization": f"Bearer {KM_TOKEN}"}
            )
            assert statuses(response) == ["imported", "error"]
            assert response.json()["data"][1]["message"].startswith("sealed_input does not open")
            signed = await http.post(SIGN + right.hex, json=RANDAO_REVEAL)
            assert signed.status_code == 200, signed.text
        root = bytes.fromhex(RANDAO_REVEAL["signingRoot"][2:])
        assert G2ProofOfPossession.Verify(right.pubkey, root, bytes.fromhex(signed.json()["signature"][2:]))
        assert [key.pubkey for key in validators.list_validator_keys()] == [right.pubkey]
    finally:
        validators.close()

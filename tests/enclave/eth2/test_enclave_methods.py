"""The validator methods as the enclave serves them: end to end through a real enclave process (a keystore
imported, an attestation signed, refusals crossing the boundary as their own codes), and registered for the
wallet and signer roles only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle

from nitro_wallet.enclave import measurement
from nitro_wallet.enclave.app import EnclaveApp, Identity
from nitro_wallet.enclave.kms import AttestedKms
from nitro_wallet.host import key_policy
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.wire.errors import BadRequest, SigningRootMismatch, SlashingProtection, UnknownMethod
from nitro_wallet.wire.eth2 import Eth2SignParams, SealedValidatorFields, ValidatorImportParams
from support import attest, processes

pytestmark = pytest.mark.anyio

PASSWORD = "an rpc validator's password"
GENESIS_FORK_VERSION = bytes.fromhex("00000001")
FORK_INFO = {
    "fork": {"previous_version": "0x00000001", "current_version": "0x00000001", "epoch": "1"},
    "genesis_validators_root": "0x" + "4b" * 32,
}


def attestation(source: int, target: int, block_root: str = "0x" + "11" * 32) -> str:
    checkpoint = {"root": "0x" + "22" * 32}
    return json.dumps(
        {
            "type": "ATTESTATION",
            "fork_info": FORK_INFO,
            "attestation": {
                "slot": str(target * 32),
                "index": "0",
                "beacon_block_root": block_root,
                "source": {"epoch": str(source), **checkpoint},
                "target": {"epoch": str(target), **checkpoint},
            },
        }
    )


def sign_params(key: SealedValidatorFields, request: str) -> Eth2SignParams:
    return Eth2SignParams(
        pubkey=key.pubkey,
        data_key_ref=key.data_key_ref,
        blob=key.blob,
        request=request,
        genesis_fork_version=GENESIS_FORK_VERSION,
    )


@pytest.fixture(scope="module")
def enclave_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real enclave process with a data key from the KMS emulator, as `nitro-wallet up` prepares one."""
    state_dir = tmp_path_factory.mktemp("eth2-rpc")
    with processes.kms_emulator(state_dir) as kms_url:
        admin = processes.kms_client(state_dir, kms_url)
        key_arn: str = admin.create_key(Policy=json.dumps(key_policy.admin_policy()))["KeyMetadata"]["Arn"]
        pcr0 = measurement.measure(processes.image(kms_url, key_arn)).pcr0
        policy = key_policy.key_policy(pcr0=pcr0.hex())
        admin.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
        with processes.enclave(state_dir, kms_url, key_arn) as address:
            asyncio.run(processes.prepare_enclave(address, state_dir))
            yield address


async def test_a_keystore_imported_and_an_attestation_signed_over_rpc(
    enclave_address: str, build_keystore: Callable[..., dict[str, Any]], random_secret: Callable[[], bytes]
) -> None:
    keystore = build_keystore(random_secret(), PASSWORD, kdf="scrypt", n=2**14)
    async with EnclaveChannel(enclave_address) as channel:
        client = EnclaveClient(channel)
        key = await client.import_validator(
            ValidatorImportParams(keystore=json.dumps(keystore), password=PASSWORD)
        )
        assert key.pubkey.hex() == keystore["pubkey"]

        result = await client.sign_eth2(sign_params(key, attestation(5, 10)))
        assert (result.type, result.source_epoch, result.target_epoch) == ("ATTESTATION", 5, 10)
        assert result.genesis_validators_root == bytes.fromhex("4b" * 32)
        assert Oracle.Verify(key.pubkey, result.signing_root, result.signature)

        again = await client.sign_eth2(sign_params(key, attestation(5, 10)))
        assert again.signature == result.signature  # the identical vote, signed again
        with pytest.raises(SlashingProtection, match="double vote"):
            await client.sign_eth2(sign_params(key, attestation(5, 10, block_root="0x" + "33" * 32)))
        supplied = json.loads(attestation(6, 11))
        supplied["signingRoot"] = "0x" + result.signing_root.hex()
        with pytest.raises(SigningRootMismatch):
            await client.sign_eth2(sign_params(key, json.dumps(supplied)))


@pytest.mark.parametrize(("role", "served"), [("wallet", True), ("signer", True), ("generator", False)])
async def test_the_validator_methods_belong_to_the_wallet_and_signer_roles(
    tmp_path: Path, role: str, served: bool
) -> None:
    nsm = attest.nsm(tmp_path, pcr0=bytes(48))
    kms = AttestedKms(nsm, endpoint_url="http://127.0.0.1:9", region=processes.REGION, key_arn="arn:none")
    app = EnclaveApp(nsm, kms, Identity(nsm_kind="emulated", debug=False, role=role))
    for method in (ValidatorImportParams.METHOD, Eth2SignParams.METHOD):
        with pytest.raises(BadRequest if served else UnknownMethod):  # served: the empty params are refused
            await app.handle(method, {})

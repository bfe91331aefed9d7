"""The enclave's RPC methods: each name parses into its parameter type, runs, and returns its result type.

Blocking work (KMS round trips, RSA, keystore KDFs) runs in worker threads so one slow call never stalls the
other requests on the connection. Signing runs on the event loop: it is short CPU work (tens of
microseconds) that a thread hop would only slow down, as the GIL serialises it anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nitro_wallet.enclave.adoption import Adoption
from nitro_wallet.enclave.datakeys import DataKeyInfo, DataKeyRing
from nitro_wallet.enclave.eth2.keyring import ValidatorKeyring
from nitro_wallet.enclave.eth2.signer import ValidatorSigner
from nitro_wallet.enclave.eth2.watermarks import Watermarks
from nitro_wallet.enclave.generator import KeyGenerator
from nitro_wallet.enclave.keyring import Keyring
from nitro_wallet.enclave.kms import AttestedKms, KmsCredentials
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.enclave.transport_key import PRIVATE_KEY_BYTES, TransportKey
from nitro_wallet.enclave.wallet import Wallet
from nitro_wallet.wire import eth2, methods, wallet
from nitro_wallet.wire.errors import NsmError, UnknownMethod

Method = tuple[type[methods.WireType], Callable[[Any], Awaitable[methods.WireType]]]


@dataclass(frozen=True)
class Identity:
    """How this enclave describes itself (the NSM kind, debug mode and role are fixed at boot)."""

    nsm_kind: str
    debug: bool
    role: str = "wallet"  # measurement.ROLES


class EnclaveApp:
    """The methods of one role: `wallet` does everything; the split layout's `generator` only makes keys
    (enclave/generator.py) and `signer` everything else, adopting the generator's keys (adoption.py)."""

    def __init__(self, nsm: Nsm, kms: AttestedKms, identity: Identity) -> None:
        self._nsm = nsm
        self._kms = kms
        self._identity = identity
        self.data_keys = DataKeyRing(kms)
        entropy = nsm_entropy(nsm)
        self._transport = TransportKey(entropy(PRIVATE_KEY_BYTES))
        keyring = Keyring(self.data_keys.get, entropy)
        self._wallet = Wallet(keyring, self.data_keys.newest_ref, self._transport)
        self._generator = KeyGenerator(kms, entropy, self._transport)
        self._adoption = Adoption(keyring, kms, self.data_keys.newest_ref)
        self._validators = ValidatorSigner(
            ValidatorKeyring(self.data_keys.get, entropy),
            Watermarks(),
            self.data_keys.newest_ref,
            self._transport,
        )
        self._methods: dict[str, Method] = {
            methods.DescribeParams.METHOD: (methods.DescribeParams, self.describe),
            methods.AttestParams.METHOD: (methods.AttestParams, self.attest),
            methods.KmsCredentialsParams.METHOD: (methods.KmsCredentialsParams, self.kms_credentials),
        }
        if identity.role == "generator":
            self._methods |= {
                wallet.KeyCreateParams.METHOD: (wallet.KeyCreateParams, self.generate_key),
                wallet.KeyImportParams.METHOD: (wallet.KeyImportParams, self.generate_imported_key),
            }
            return
        self._methods |= {
            methods.DataKeyGenerateParams.METHOD: (methods.DataKeyGenerateParams, self.generate_data_key),
            methods.DataKeyLoadParams.METHOD: (methods.DataKeyLoadParams, self.load_data_key),
            wallet.KeyRewrapParams.METHOD: (wallet.KeyRewrapParams, self.rewrap_key),
            wallet.KeyMigrateParams.METHOD: (wallet.KeyMigrateParams, self.migrate_key),
            wallet.SignParams.METHOD: (wallet.SignParams, self.sign),
            eth2.ValidatorImportParams.METHOD: (eth2.ValidatorImportParams, self.import_validator),
            eth2.Eth2SignParams.METHOD: (eth2.Eth2SignParams, self.sign_eth2),
        }
        if identity.role == "signer":
            self._methods[wallet.KeyAdoptParams.METHOD] = (wallet.KeyAdoptParams, self.adopt_key)
        else:
            self._methods |= {
                wallet.KeyCreateParams.METHOD: (wallet.KeyCreateParams, self.create_key),
                wallet.KeyImportParams.METHOD: (wallet.KeyImportParams, self.import_key),
            }

    async def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._methods.get(method)
        if entry is None:
            raise UnknownMethod(f"no method {method!r}")
        params_type, handler = entry
        result = await handler(params_type.parse(params))
        return result.to_wire()

    def _describe(self) -> methods.DescribeResult:
        description = self._nsm.describe_nsm()
        pcrs = {str(index): self._nsm.describe_pcr(index).value for index in sorted(description.locked_pcrs)}
        return methods.DescribeResult(
            module_id=description.module_id,
            nsm=self._identity.nsm_kind,
            debug=self._identity.debug,
            pcrs=pcrs,
            role=self._identity.role,
        )

    async def describe(self, _params: methods.DescribeParams) -> methods.DescribeResult:
        return await asyncio.to_thread(self._describe)

    async def attest(self, params: methods.AttestParams) -> methods.AttestResult:
        document = await asyncio.to_thread(
            self._nsm.attestation,
            nonce=params.nonce,
            user_data=params.user_data,
            public_key=self._transport.public_key,  # for sealed inputs (transport_key.py)
        )
        return methods.AttestResult(document=document)

    async def kms_credentials(self, params: methods.KmsCredentialsParams) -> methods.Empty:
        credentials = KmsCredentials(params.access_key_id, params.secret_access_key, params.session_token)
        await asyncio.to_thread(self._kms.set_credentials, credentials)
        return methods.Empty()

    async def generate_data_key(self, params: methods.DataKeyGenerateParams) -> methods.DataKeyResult:
        info = await asyncio.to_thread(self.data_keys.generate)
        return _data_key_result(info)

    async def load_data_key(self, params: methods.DataKeyLoadParams) -> methods.DataKeyResult:
        info = await asyncio.to_thread(self.data_keys.load, params.ciphertext_blob)
        return _data_key_result(info)

    async def create_key(self, params: wallet.KeyCreateParams) -> wallet.SealedKeyFields:
        return self._wallet.create(params)

    async def import_key(self, params: wallet.KeyImportParams) -> wallet.SealedKeyFields:
        return await asyncio.to_thread(self._wallet.import_key, params)  # a keystore's KDF takes a while

    async def rewrap_key(self, params: wallet.KeyRewrapParams) -> wallet.SealedKeyFields:
        return self._wallet.rewrap(params)

    async def generate_key(self, params: wallet.KeyCreateParams) -> wallet.WrappedKeyFields:
        return await asyncio.to_thread(self._generator.create, params)  # a KMS round trip

    async def generate_imported_key(self, params: wallet.KeyImportParams) -> wallet.WrappedKeyFields:
        return await asyncio.to_thread(self._generator.import_key, params)

    async def adopt_key(self, params: wallet.KeyAdoptParams) -> wallet.SealedKeyFields:
        return await asyncio.to_thread(self._adoption.adopt, params)

    async def migrate_key(self, params: wallet.KeyMigrateParams) -> wallet.SealedKeyFields:
        return await asyncio.to_thread(self._adoption.migrate, params)

    async def sign(self, params: wallet.SignParams) -> wallet.SignResult:
        return self._wallet.sign(params)

    async def import_validator(self, params: eth2.ValidatorImportParams) -> eth2.SealedValidatorFields:
        return await asyncio.to_thread(self._validators.import_, params)  # a keystore's KDF takes a while

    async def sign_eth2(self, params: eth2.Eth2SignParams) -> eth2.Eth2SignResult:
        return self._validators.sign(params)


def nsm_entropy(nsm: Nsm) -> Callable[[int], bytes]:
    """`count` bytes from the NSM's GetRandom (a real module answers 256 per call)."""

    def draw(count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            chunk = nsm.get_random()
            if not chunk:
                raise NsmError("GetRandom returned no bytes")
            out += chunk
        return bytes(out[:count])

    return draw


def _data_key_result(info: DataKeyInfo) -> methods.DataKeyResult:
    return methods.DataKeyResult(
        ciphertext_blob=info.ciphertext_blob, key_ref=info.key_ref, check_value=info.check_value
    )

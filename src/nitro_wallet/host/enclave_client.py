"""The host's typed view of the enclave's RPC methods (see `wire.methods`)."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.wire import eth2, methods, wallet

_Result = TypeVar("_Result", bound=methods.WireType)


class EnclaveClient:
    def __init__(self, channel: EnclaveChannel) -> None:
        self.channel = channel

    async def _call(self, method: str, params: methods.WireType, result: type[_Result]) -> _Result:
        return result.parse(await self.channel.call(method, params.to_wire()))

    async def describe(self) -> methods.DescribeResult:
        return await self._call(
            methods.DescribeParams.METHOD, methods.DescribeParams(), methods.DescribeResult
        )

    async def attest(self, nonce: bytes, *, user_data: bytes | None = None) -> bytes:
        params = methods.AttestParams(nonce=nonce, user_data=user_data)
        return (await self._call(params.METHOD, params, methods.AttestResult)).document

    async def set_kms_credentials(
        self, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> None:
        params = methods.KmsCredentialsParams(access_key_id, secret_access_key, session_token)
        await self._call(params.METHOD, params, methods.Empty)

    async def generate_data_key(self) -> methods.DataKeyResult:
        params = methods.DataKeyGenerateParams()
        return await self._call(params.METHOD, params, methods.DataKeyResult)

    async def load_data_key(self, ciphertext_blob: bytes) -> methods.DataKeyResult:
        params = methods.DataKeyLoadParams(ciphertext_blob)
        return await self._call(params.METHOD, params, methods.DataKeyResult)

    # --- wallet keys and signatures (wire.wallet) --------------------------------------------------------

    async def create_key(self, params: wallet.KeyCreateParams) -> wallet.SealedKeyFields:
        return await self._call(params.METHOD, params, wallet.SealedKeyFields)

    async def import_key(self, params: wallet.KeyImportParams) -> wallet.SealedKeyFields:
        return await self._call(params.METHOD, params, wallet.SealedKeyFields)

    async def rewrap_key(self, params: wallet.KeyRewrapParams) -> wallet.SealedKeyFields:
        return await self._call(params.METHOD, params, wallet.SealedKeyFields)

    async def sign(self, params: wallet.SignParams) -> dict[str, str]:
        return (await self._call(params.METHOD, params, wallet.SignResult)).fields

    async def migrate_key(self, params: wallet.KeyMigrateParams) -> wallet.SealedKeyFields:
        return await self._call(params.METHOD, params, wallet.SealedKeyFields)

    # --- the split layout: a generator enclave makes keys, the signer adopts them -------------------------

    async def generate_key(self, params: wallet.KeyCreateParams) -> wallet.WrappedKeyFields:
        return await self._call(params.METHOD, params, wallet.WrappedKeyFields)

    async def generate_imported_key(self, params: wallet.KeyImportParams) -> wallet.WrappedKeyFields:
        return await self._call(params.METHOD, params, wallet.WrappedKeyFields)

    async def adopt_key(self, wrapped: wallet.WrappedKeyFields) -> wallet.SealedKeyFields:
        params = wallet.KeyAdoptParams(**dataclasses.asdict(wrapped))
        return await self._call(params.METHOD, params, wallet.SealedKeyFields)

    # --- validator keys and eth2 signatures (wire.eth2) --------------------------------------------------

    async def import_validator(self, params: eth2.ValidatorImportParams) -> eth2.SealedValidatorFields:
        return await self._call(params.METHOD, params, eth2.SealedValidatorFields)

    async def sign_eth2(self, params: eth2.Eth2SignParams) -> eth2.Eth2SignResult:
        return await self._call(params.METHOD, params, eth2.Eth2SignResult)


class SplitEnclaves(EnclaveClient):
    """The split layout as one client: keys are made by the generator enclave, then adopted by the signer
    (this client's channel), which serves everything else. Attestation documents come from the generator:
    its transport key is the one sealed inputs are for."""

    def __init__(self, signer: EnclaveChannel, generator: EnclaveClient) -> None:
        super().__init__(signer)
        self.generator = generator

    async def attest(self, nonce: bytes, *, user_data: bytes | None = None) -> bytes:
        return await self.generator.attest(nonce, user_data=user_data)

    async def create_key(self, params: wallet.KeyCreateParams) -> wallet.SealedKeyFields:
        return await self.adopt_key(await self.generator.generate_key(params))

    async def import_key(self, params: wallet.KeyImportParams) -> wallet.SealedKeyFields:
        return await self.adopt_key(await self.generator.generate_imported_key(params))

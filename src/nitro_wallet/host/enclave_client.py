"""The host's typed view of the enclave's RPC methods (see `wire.methods`).

`attest` takes the sealed-input method a client means to seal for (`SEALED_INPUT_METHODS`): the document
then comes from the enclave that opens that method's input, so its transport key is the right one. With one
enclave that is always the same enclave; with split roles, the generator opens key creation and import and
the signer opens validator import.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.wire import eth2, methods, wallet
from nitro_wallet.wire.errors import BadRequest

GENERATOR_METHODS = frozenset({wallet.KeyCreateParams.METHOD, wallet.KeyImportParams.METHOD})
SEALED_INPUT_METHODS = GENERATOR_METHODS | {eth2.ValidatorImportParams.METHOD}

_Result = TypeVar("_Result", bound=methods.WireType)


def sealed_input_method(method: str | None) -> str | None:
    """`method` if it takes a sealed input (None stays None); BadRequest naming `method` otherwise."""
    if method is not None and method not in SEALED_INPUT_METHODS:
        known = ", ".join(sorted(SEALED_INPUT_METHODS))
        raise BadRequest(f"method must be a method that takes sealed_input: {known}", field="method")
    return method


class EnclaveClient:
    def __init__(self, channel: EnclaveChannel) -> None:
        self.channel = channel

    async def _call(self, method: str, params: methods.WireType, result: type[_Result]) -> _Result:
        return result.parse(await self.channel.call(method, params.to_wire()))

    async def describe(self) -> methods.DescribeResult:
        return await self._call(
            methods.DescribeParams.METHOD, methods.DescribeParams(), methods.DescribeResult
        )

    async def attest(
        self, nonce: bytes, *, user_data: bytes | None = None, method: str | None = None
    ) -> bytes:
        """A document over `nonce`, from the enclave that opens sealed inputs for `method` (this one)."""
        sealed_input_method(method)
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
    (this client's channel), which serves everything else. Attestation documents come from the enclave
    that opens the sealed input of `method`: the signer for validators.import, otherwise (key creation and
    import, or no method named) the generator."""

    def __init__(self, signer: EnclaveChannel, generator: EnclaveClient) -> None:
        super().__init__(signer)
        self.generator = generator

    async def attest(
        self, nonce: bytes, *, user_data: bytes | None = None, method: str | None = None
    ) -> bytes:
        if sealed_input_method(method) == eth2.ValidatorImportParams.METHOD:
            return await super().attest(nonce, user_data=user_data, method=method)
        return await self.generator.attest(nonce, user_data=user_data, method=method)

    async def create_key(self, params: wallet.KeyCreateParams) -> wallet.SealedKeyFields:
        return await self.adopt_key(await self.generator.generate_key(params))

    async def import_key(self, params: wallet.KeyImportParams) -> wallet.SealedKeyFields:
        return await self.adopt_key(await self.generator.generate_imported_key(params))

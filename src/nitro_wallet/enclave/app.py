"""The enclave's RPC methods: each name parses into its parameter type, runs, and returns its result type.

Blocking work (NSM ioctls, KMS round trips, RSA) runs in worker threads so one slow KMS call never stalls
the other requests on the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nitro_wallet.enclave.datakeys import DataKeyInfo, DataKeyRing
from nitro_wallet.enclave.kms import AttestedKms, KmsCredentials
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.wire import methods
from nitro_wallet.wire.errors import UnknownMethod

Method = tuple[type[methods.WireType], Callable[[Any], Awaitable[methods.WireType]]]


@dataclass(frozen=True)
class Identity:
    """How this enclave describes itself (the NSM kind and debug mode are fixed at boot)."""

    nsm_kind: str
    debug: bool


class EnclaveApp:
    def __init__(self, nsm: Nsm, kms: AttestedKms, identity: Identity) -> None:
        self._nsm = nsm
        self._kms = kms
        self._identity = identity
        self.data_keys = DataKeyRing(kms)
        self._methods: dict[str, Method] = {
            methods.DescribeParams.METHOD: (methods.DescribeParams, self.describe),
            methods.AttestParams.METHOD: (methods.AttestParams, self.attest),
            methods.KmsCredentialsParams.METHOD: (methods.KmsCredentialsParams, self.kms_credentials),
            methods.DataKeyGenerateParams.METHOD: (methods.DataKeyGenerateParams, self.generate_data_key),
            methods.DataKeyLoadParams.METHOD: (methods.DataKeyLoadParams, self.load_data_key),
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
        )

    async def describe(self, _params: methods.DescribeParams) -> methods.DescribeResult:
        return await asyncio.to_thread(self._describe)

    async def attest(self, params: methods.AttestParams) -> methods.AttestResult:
        document = await asyncio.to_thread(
            self._nsm.attestation, nonce=params.nonce, user_data=params.user_data
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


def _data_key_result(info: DataKeyInfo) -> methods.DataKeyResult:
    return methods.DataKeyResult(
        ciphertext_blob=info.ciphertext_blob, key_ref=info.key_ref, check_value=info.check_value
    )

"""What every route works with: the enclave, the key store, the authenticator, the clock and the metrics;
for the Web3Signer eth2 routes, the validator database and the configured Eth2 network.

One per app, built by `build_app`; nothing module-global, so several apps can live in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TypeVar

from nitro_wallet.host.api.metrics import ApiMetrics
from nitro_wallet.host.auth import Authenticator
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.slashing.store import SlashingStore
from nitro_wallet.host.store.records import KeyStore
from nitro_wallet.wire.errors import NitroWalletError, Unavailable
from nitro_wallet.wire.eth2_networks import DEFAULT_NETWORK, Network

_T = TypeVar("_T")

# What /healthcheck reports for KMS: the host learns it when it loads the enclave's data keys.
KmsStatus = Callable[[], str]


@dataclass(frozen=True, slots=True)
class ApiContext:
    enclave: EnclaveClient
    store: KeyStore
    authenticator: Authenticator
    clock: Callable[[], float]
    metrics: ApiMetrics
    kms_status: KmsStatus | None = None
    validators: SlashingStore | None = None  # validator keys and slashing protection; None: no eth2 routes
    eth2_network: Network = DEFAULT_NETWORK

    def now(self) -> int:
        """Seconds since the Unix epoch, as stored in records and bound into request HMACs."""
        return int(self.clock())

    async def ask_enclave(self, call: Coroutine[object, object, _T], *, needs_data_keys: bool = True) -> _T:
        """Await one enclave RPC, counting its error (by code) if it fails.

        While KMS is reported down (the enclave is starting, or restarting, and does not hold its data
        keys yet) a call that `needs_data_keys` is not made: Unavailable (503), where the enclave would
        answer "no data key" (404).
        """
        if needs_data_keys and self.kms_status is not None and self.kms_status() != "UP":
            call.close()
            self.metrics.count_enclave_error(Unavailable.code.value)
            raise Unavailable("the enclave is starting and does not hold its data keys yet: retry shortly")
        try:
            return await call
        except NitroWalletError as exc:
            self.metrics.count_enclave_error(exc.code.value)
            raise

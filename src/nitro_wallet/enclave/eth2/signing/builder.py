# mypy: disallow-subclassing-any=False
"""The builder API's ValidatorRegistrationV1, per ethereum/builder-specs specs/bellatrix/builder.md.

No `from __future__ import annotations` here: remerkleable reads the field types from `__annotations__`.
"""

from typing import TypeAlias

from nitro_wallet.enclave.eth2.signing.phase0 import BLSPubkey
from nitro_wallet.enclave.eth2.signing.ssz import Bytes20, Container, uint64

ExecutionAddress: TypeAlias = Bytes20


class ValidatorRegistration(Container):
    fee_recipient: ExecutionAddress
    gas_limit: uint64
    timestamp: uint64
    pubkey: BLSPubkey

"""ERC-4337 user operations: the bundler JSON forms and EntryPoint `getUserOpHash` for v0.6 and v0.7.

The caller names the version; nothing is guessed from the fields present.

* "v0.6": the `UserOperation` struct as bundlers send it (camelCase; initCode, paymasterAndData as bytes).
* "v0.7": the unpacked RPC form (factory/factoryData, paymaster/paymasterVerificationGasLimit/
  paymasterPostOpGasLimit/paymasterData; absent or null when unused), packed the way EntryPoint v0.7
  reads it: accountGasLimits = verificationGasLimit << 128 | callGasLimit, gasFees =
  maxPriorityFeePerGas << 128 | maxFeePerGas, initCode = factory || factoryData, paymasterAndData =
  paymaster || uint128 verification gas || uint128 postOp gas || paymasterData.

Both versions hash as `keccak256(abi.encode(keccak256(pack(userOp)), entryPoint, chainId))`, with
`pack` = abi.encode of the static fields and the keccak256 of each dynamic one
(eth-infinitism/account-abstraction v0.6 `UserOperation.sol` and v0.7 `UserOperationLib.sol`).
`signature` is accepted but never hashed. Values follow `fields` (quantities, EIP-55 addresses, hex).
EntryPoint v0.8 and later (an EIP-712 userOpHash, the 0x7702 initCode marker) are not implemented: a
v0.7 initCode that starts with 0x7702 is hashed as the bytes it is, as EntryPoint v0.7 does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.enclave.eth.abi import ADDRESS_BYTES, encode
from nitro_wallet.enclave.eth.fields import address, hex_bytes, quantity
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.wire.errors import BadRequest

ENTRY_POINT_V06 = bytes.fromhex("5ff137d4b0fdcd49dca30c7cf57e578a026d2789")
ENTRY_POINT_V07 = bytes.fromhex("0000000071727de22e5e9d8baf0edac6f37da032")
VERSIONS = ("v0.6", "v0.7")
MAX_DATA_BYTES = 128 * 1024  # each bytes field: initCode, callData, paymasterAndData, factoryData, ...
_PACKED_GAS_BITS = 128  # v0.7 packs two gas values into one word

_V06_FIELDS = (
    "sender",
    "nonce",
    "initCode",
    "callData",
    "callGasLimit",
    "verificationGasLimit",
    "preVerificationGas",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "paymasterAndData",
    "signature",
)
_V07_FIELDS = (
    "sender",
    "nonce",
    "factory",
    "factoryData",
    "callData",
    "callGasLimit",
    "verificationGasLimit",
    "preVerificationGas",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "paymaster",
    "paymasterVerificationGasLimit",
    "paymasterPostOpGasLimit",
    "paymasterData",
    "signature",
)
_PAYMASTER_DETAILS = ("paymasterVerificationGasLimit", "paymasterPostOpGasLimit", "paymasterData")


@dataclass(frozen=True)
class UserOperationV06:
    VERSION: ClassVar[str] = "v0.6"

    sender: bytes
    nonce: int
    init_code: bytes
    call_data: bytes
    call_gas_limit: int
    verification_gas_limit: int
    pre_verification_gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    paymaster_and_data: bytes

    def packed_hash(self) -> bytes:
        """keccak256 of EntryPoint v0.6 `UserOperationLib.pack(userOp)`."""
        return keccak256(
            encode(
                ("address", "uint256", "bytes32", "bytes32") + ("uint256",) * 5 + ("bytes32",),
                (
                    self.sender,
                    self.nonce,
                    keccak256(self.init_code),
                    keccak256(self.call_data),
                    self.call_gas_limit,
                    self.verification_gas_limit,
                    self.pre_verification_gas,
                    self.max_fee_per_gas,
                    self.max_priority_fee_per_gas,
                    keccak256(self.paymaster_and_data),
                ),
            )
        )


@dataclass(frozen=True)
class UserOperationV07:
    VERSION: ClassVar[str] = "v0.7"

    sender: bytes
    nonce: int
    factory: bytes | None
    factory_data: bytes
    call_data: bytes
    call_gas_limit: int  # uint128
    verification_gas_limit: int  # uint128
    pre_verification_gas: int
    max_fee_per_gas: int  # uint128
    max_priority_fee_per_gas: int  # uint128
    paymaster: bytes | None
    paymaster_verification_gas_limit: int  # uint128
    paymaster_post_op_gas_limit: int  # uint128
    paymaster_data: bytes

    @property
    def init_code(self) -> bytes:
        return b"" if self.factory is None else self.factory + self.factory_data

    @property
    def account_gas_limits(self) -> bytes:
        return _pack_128(self.verification_gas_limit, self.call_gas_limit)

    @property
    def gas_fees(self) -> bytes:
        return _pack_128(self.max_priority_fee_per_gas, self.max_fee_per_gas)

    @property
    def paymaster_and_data(self) -> bytes:
        if self.paymaster is None:
            return b""
        return (
            self.paymaster
            + self.paymaster_verification_gas_limit.to_bytes(16, "big")
            + self.paymaster_post_op_gas_limit.to_bytes(16, "big")
            + self.paymaster_data
        )

    def packed_hash(self) -> bytes:
        """keccak256 of EntryPoint v0.7 `UserOperationLib.encode(packedUserOp)`."""
        return keccak256(
            encode(
                ("address", "uint256", "bytes32", "bytes32", "bytes32", "uint256", "bytes32", "bytes32"),
                (
                    self.sender,
                    self.nonce,
                    keccak256(self.init_code),
                    keccak256(self.call_data),
                    self.account_gas_limits,
                    self.pre_verification_gas,
                    self.gas_fees,
                    keccak256(self.paymaster_and_data),
                ),
            )
        )


UserOperation = UserOperationV06 | UserOperationV07


def user_op_hash(op: UserOperation, entry_point: bytes, chain_id: int) -> bytes:
    """EntryPoint.getUserOpHash(op) as deployed at `entry_point` on chain `chain_id`."""
    if len(entry_point) != ADDRESS_BYTES:
        raise BadRequest("entryPoint must be a 20-byte address", field="entryPoint")
    # EntryPoint hashes block.chainid, never 0: a chain-0 hash would only serve cross-chain replay.
    if isinstance(chain_id, bool) or not 1 <= chain_id < 1 << 256:
        raise BadRequest("chainId must be an integer from 1 to 2**256-1", field="chainId")
    return keccak256(encode(("bytes32", "address", "uint256"), (op.packed_hash(), entry_point, chain_id)))


def parse_user_operation(payload: object, version: str) -> UserOperation:
    """Parse a user operation in the JSON form of `version` ("v0.6" or "v0.7")."""
    if version not in VERSIONS:
        raise BadRequest('version must be "v0.6" or "v0.7"', field="version")
    fields = _V06_FIELDS if version == "v0.6" else _V07_FIELDS
    if not isinstance(payload, Mapping):
        raise BadRequest("the user operation must be an object")
    for key in payload:
        if key not in fields:
            name = str(key)[:64]
            raise BadRequest(f"{name} is not a {version} user operation field", field=name)
    _optional_data(payload, "signature")  # validated, never hashed
    return _parse_v06(payload) if version == "v0.6" else _parse_v07(payload)


def _parse_v06(op: Mapping[str, object]) -> UserOperationV06:
    return UserOperationV06(
        sender=address(_required(op, "sender"), "sender"),
        nonce=_uint(op, "nonce"),
        init_code=_data(op, "initCode"),
        call_data=_data(op, "callData"),
        call_gas_limit=_uint(op, "callGasLimit"),
        verification_gas_limit=_uint(op, "verificationGasLimit"),
        pre_verification_gas=_uint(op, "preVerificationGas"),
        max_fee_per_gas=_uint(op, "maxFeePerGas"),
        max_priority_fee_per_gas=_uint(op, "maxPriorityFeePerGas"),
        paymaster_and_data=_data(op, "paymasterAndData"),
    )


def _parse_v07(op: Mapping[str, object]) -> UserOperationV07:
    factory = None if op.get("factory") is None else address(op["factory"], "factory")
    if factory is None and op.get("factoryData") is not None:
        raise BadRequest("factoryData is set but factory is not", field="factoryData")
    paymaster = None if op.get("paymaster") is None else address(op["paymaster"], "paymaster")
    if paymaster is None:
        for key in _PAYMASTER_DETAILS:
            if op.get(key) is not None:
                raise BadRequest(f"{key} is set but paymaster is not", field=key)
        paymaster_gas = (0, 0)
    else:
        paymaster_gas = (
            _uint(op, "paymasterVerificationGasLimit", _PACKED_GAS_BITS),
            _uint(op, "paymasterPostOpGasLimit", _PACKED_GAS_BITS),
        )
    return UserOperationV07(
        sender=address(_required(op, "sender"), "sender"),
        nonce=_uint(op, "nonce"),
        factory=factory,
        factory_data=_optional_data(op, "factoryData"),
        call_data=_data(op, "callData"),
        call_gas_limit=_uint(op, "callGasLimit", _PACKED_GAS_BITS),
        verification_gas_limit=_uint(op, "verificationGasLimit", _PACKED_GAS_BITS),
        pre_verification_gas=_uint(op, "preVerificationGas"),
        max_fee_per_gas=_uint(op, "maxFeePerGas", _PACKED_GAS_BITS),
        max_priority_fee_per_gas=_uint(op, "maxPriorityFeePerGas", _PACKED_GAS_BITS),
        paymaster=paymaster,
        paymaster_verification_gas_limit=paymaster_gas[0],
        paymaster_post_op_gas_limit=paymaster_gas[1],
        paymaster_data=_optional_data(op, "paymasterData"),
    )


def _required(op: Mapping[str, object], key: str) -> object:
    value = op.get(key)
    if value is None:
        raise BadRequest(f"{key} is required", field=key)
    return value


def _uint(op: Mapping[str, object], key: str, bits: int = 256) -> int:
    return quantity(_required(op, key), key, bits=bits)


def _data(op: Mapping[str, object], key: str) -> bytes:
    return hex_bytes(_required(op, key), key, max_bytes=MAX_DATA_BYTES)


def _optional_data(op: Mapping[str, object], key: str) -> bytes:
    return b"" if op.get(key) is None else _data(op, key)


def _pack_128(high: int, low: int) -> bytes:
    return (high << _PACKED_GAS_BITS | low).to_bytes(32, "big")

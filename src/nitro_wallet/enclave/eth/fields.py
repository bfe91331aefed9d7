"""Parsing of the JSON values Ethereum requests carry, and of the fields every transaction type shares.

Payloads arrive as `json.loads(text, parse_float=decimal.Decimal)`: int, str, Decimal, bool, None, list,
dict. Each parser takes the value and its dotted field path and returns an `int` or `bytes`, or raises
BadRequest naming that path. Nothing is guessed:

* Quantities (nonce, gas, fees, wei): a non-negative int; a string of ASCII decimal digits; a "0x" hex
  string as eth JSON-RPC writes quantities (leading zeros tolerated, "0x" alone refused); or an integral
  Decimal (JSON `1e3`). Booleans, floats, negative numbers and fractions are refused: a float is never
  exact, and a silently truncated amount is a wrong amount.
* Ether amounts: the same, but in ether with at most 18 decimals, converted to wei exactly ("0.01" is
  10**16 wei; the AWS reference signs 0.009999999776 ETH for it because it goes through a float32).
* Addresses: "0x" + 40 hex digits; all-lower or all-upper case as is, mixed case only as the EIP-55
  checksummed form (a mixed-case typo is how funds get lost).
* Byte strings: "0x" + an even number of hex digits, bounded by the caller's maximum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Literal, TypeVar

from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.wire.errors import BadRequest

ValueUnit = Literal["wei", "ether"]
T = TypeVar("T")

MAX_QUANTITY_CHARS = 80  # a 256-bit number has 78 decimal or 64 hex digits
MAX_DECIMAL_EXPONENT = 80  # an integral Decimal at 10**80 already exceeds every 256-bit field
ETHER_DECIMALS = 18
WEI_PER_ETHER: int = 10**ETHER_DECIMALS
ADDRESS_BYTES = 20

CHAIN_ID_BITS = 64  # chainId in 1 .. 2**64-1 (0 is no replay protection at all)
NONCE_BITS = 64
GAS_BITS = 64
FEE_BITS = 256
VALUE_BITS = 256
MAX_DATA_BYTES = 128 * 1024  # geth's transaction size limit (txMaxSize): more never reaches a mempool
MAX_ACCESS_LIST_ADDRESSES = 1024
MAX_ACCESS_LIST_STORAGE_KEYS = 4096  # across the whole list: 4096 * 33 bytes is about geth's 128 KiB

ALIASES: Mapping[str, str] = {"gas": "gasLimit", "data": "input"}  # canonical name -> accepted alias
_CANONICAL_NAMES: Mapping[str, str] = {alias: name for name, alias in ALIASES.items()}

_DECIMAL_DIGITS = re.compile(r"[0-9]+")  # [0-9], not \d: \d also matches non-ASCII digits
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")
_ETHER_TEXT = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def members(
    value: object, field: str, *, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, object]:
    """A JSON object with all the `required` keys and maybe `optional` ones; any other key is refused."""
    if not isinstance(value, Mapping):
        raise BadRequest(f"{field or 'the request'} must be a JSON object", field=field or None)
    unknown = sorted(str(key) for key in value if key not in required and key not in optional)
    if unknown:
        where = f" in {field}" if field else ""
        raise BadRequest(f"unknown field(s){where}: {', '.join(unknown)}", field=child(field, unknown[0]))
    missing = sorted(required - value.keys())
    if missing:
        raise BadRequest(f"{child(field, missing[0])} is required", field=child(field, missing[0]))
    return value


def quantity(value: object, field: str, *, bits: int = 256) -> int:
    """A non-negative integer below 2**bits (see the module docstring for the accepted forms)."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be an integer, not a boolean", field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = _integer_text(value, field)
    elif isinstance(value, Decimal):
        number = _integral_decimal(value, field)
    else:
        raise _not_a_number(value, field, "an integer, a decimal string or a 0x-hex string")
    if number < 0:
        raise BadRequest(f"{field} must not be negative", field=field)
    if number >> bits:
        raise BadRequest(f"{field} must be below 2**{bits}", field=field)
    return number


def _integer_text(text: str, field: str) -> int:
    if len(text) > MAX_QUANTITY_CHARS:
        raise BadRequest(f"{field} is longer than {MAX_QUANTITY_CHARS} characters", field=field)
    if text[:2] == "0x":
        if len(text) > 2 and _HEX_DIGITS.fullmatch(text, 2):
            return int(text[2:], 16)
    elif _DECIMAL_DIGITS.fullmatch(text):
        return int(text)
    raise BadRequest(f"{field} must be decimal digits or a 0x-prefixed hex number", field=field)


def _integral_decimal(value: Decimal, field: str) -> int:
    _check_decimal(value, field)
    if value != value.to_integral_value():
        raise BadRequest(f"{field} must be a whole number", field=field)
    return int(value)


def _check_decimal(value: Decimal, field: str) -> None:
    if not value.is_finite():
        raise BadRequest(f"{field} must be a finite number", field=field)
    if value.is_signed():
        raise BadRequest(f"{field} must not be negative", field=field)
    if value.adjusted() > MAX_DECIMAL_EXPONENT:
        raise BadRequest(f"{field} is out of range", field=field)


def _not_a_number(value: object, field: str, expected: str) -> BadRequest:
    if isinstance(value, float):
        return BadRequest(f"{field} is a float, which is not exact: send {expected}", field=field)
    return BadRequest(f"{field} must be {expected}", field=field)


def ether_to_wei(value: object, field: str) -> int:
    """An ether amount (int, decimal string or Decimal, at most 18 decimals) as an exact number of wei."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be a number of ether, not a boolean", field=field)
    if isinstance(value, int):
        wei = value * WEI_PER_ETHER
    elif isinstance(value, str):
        wei = _ether_text(value, field)
    elif isinstance(value, Decimal):
        wei = _ether_decimal(value, field)
    else:
        raise _not_a_number(value, field, 'an exact amount of ether (a decimal string such as "0.01")')
    if wei < 0:
        raise BadRequest(f"{field} must not be negative", field=field)
    if wei >> VALUE_BITS:
        raise BadRequest(f"{field} must be below 2**{VALUE_BITS} wei", field=field)
    return wei


def _ether_text(text: str, field: str) -> int:
    match = _ETHER_TEXT.fullmatch(text) if len(text) <= MAX_QUANTITY_CHARS else None
    if match is None:
        raise BadRequest(f'{field} must be a decimal amount of ether such as "0.01"', field=field)
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > ETHER_DECIMALS:
        raise BadRequest(f"{field} has more than {ETHER_DECIMALS} decimals (below 1 wei)", field=field)
    return int(whole) * WEI_PER_ETHER + int(fraction.ljust(ETHER_DECIMALS, "0"))


def _ether_decimal(value: Decimal, field: str) -> int:
    _check_decimal(value, field)
    _, digits, exponent_or_flag = value.as_tuple()
    exponent = int(exponent_or_flag)  # an int for finite values, checked above
    if exponent < -ETHER_DECIMALS:
        raise BadRequest(f"{field} has more than {ETHER_DECIMALS} decimals (below 1 wei)", field=field)
    scale: int = 10 ** (exponent + ETHER_DECIMALS)
    return int("".join(map(str, digits))) * scale


def address(value: object, field: str) -> bytes:
    """20 bytes from "0x" + 40 hex digits; mixed case must be the EIP-55 checksummed form."""
    if not (
        isinstance(value, str)
        and len(value) == 2 + 2 * ADDRESS_BYTES
        and value[:2] == "0x"
        and _HEX_DIGITS.fullmatch(value, 2)
    ):
        raise BadRequest(f"{field} must be a 0x-prefixed 20-byte hex address", field=field)
    raw = bytes.fromhex(value[2:])
    body = value[2:]
    if body != body.lower() and body != body.upper() and checksum_address(raw) != value:
        raise BadRequest(f"{field} has mixed case but fails its EIP-55 checksum", field=field)
    return raw


def checksum_address(raw: bytes) -> str:
    """EIP-55: a hex letter is upper case where the keccak of the lower-case hex has a nibble >= 8."""
    lower = raw.hex()
    hashed = keccak256(lower.encode("ascii")).hex()
    # In ASCII the hex digits 8-9 and a-f sort at or after "8", and 0-7 before it.
    chosen = [
        up if nibble >= "8" else low for low, up, nibble in zip(lower, lower.upper(), hashed, strict=False)
    ]
    return "0x" + "".join(chosen)


def hex_bytes(value: object, field: str, *, max_bytes: int) -> bytes:
    """Bytes from "0x" + an even number of hex digits, at most `max_bytes` of them."""
    if not isinstance(value, str) or value[:2] != "0x":
        raise BadRequest(f"{field} must be a 0x-prefixed hex string", field=field)
    if len(value) > 2 + 2 * max_bytes:
        raise BadRequest(f"{field} is longer than {max_bytes} bytes", field=field)
    if len(value) % 2:
        raise BadRequest(f"{field} has an odd number of hex digits", field=field)
    if not _HEX_DIGITS.fullmatch(value, 2):
        raise BadRequest(f"{field} is not hex", field=field)
    return bytes.fromhex(value[2:])


def bytes32(value: object, field: str) -> bytes:
    raw = hex_bytes(value, field, max_bytes=32)
    if len(raw) != 32:
        raise BadRequest(f"{field} must be exactly 32 bytes", field=field)
    return raw


def json_list(value: object, field: str, *, max_items: int) -> list[object]:
    if not isinstance(value, list):
        raise BadRequest(f"{field} must be a list", field=field)
    if len(value) > max_items:
        raise BadRequest(f"{field} has more than {max_items} entries", field=field)
    return value


@dataclass(frozen=True)
class AccessListEntry:
    address: bytes
    storage_keys: tuple[bytes, ...]


_ACCESS_LIST_ENTRY = frozenset({"address", "storageKeys"})


def access_list(value: object, field: str) -> tuple[AccessListEntry, ...]:
    """An EIP-2930 access list: [{"address": ..., "storageKeys": [32-byte hex, ...]}, ...]."""
    entries = []
    total_keys = 0
    for i, item in enumerate(json_list(value, field, max_items=MAX_ACCESS_LIST_ADDRESSES)):
        path = f"{field}[{i}]"
        entry = members(item, path, required=_ACCESS_LIST_ENTRY)
        keys_path = f"{path}.storageKeys"
        keys = json_list(entry["storageKeys"], keys_path, max_items=MAX_ACCESS_LIST_STORAGE_KEYS)
        total_keys += len(keys)
        if total_keys > MAX_ACCESS_LIST_STORAGE_KEYS:
            raise BadRequest(
                f"{field} holds more than {MAX_ACCESS_LIST_STORAGE_KEYS} storage keys", field=keys_path
            )
        entries.append(
            AccessListEntry(
                address(entry["address"], f"{path}.address"),
                tuple(bytes32(key, f"{keys_path}[{j}]") for j, key in enumerate(keys)),
            )
        )
    return tuple(entries)


_CHAIN_ID = partial(quantity, bits=CHAIN_ID_BITS)
_NONCE = partial(quantity, bits=NONCE_BITS)
_GAS = partial(quantity, bits=GAS_BITS)
_FEE = partial(quantity, bits=FEE_BITS)
_DATA = partial(hex_bytes, max_bytes=MAX_DATA_BYTES)


class TransactionFields:
    """One transaction payload, read by canonical field name.

    `gasLimit` and `input` are accepted for `gas` and `data`; when both spellings are present they must
    agree. Errors name the field as the payload spelled it.
    """

    __slots__ = ("_payload", "_value_unit")

    def __init__(self, payload: Mapping[str, object], *, value_unit: ValueUnit) -> None:
        self._payload = payload
        self._value_unit = value_unit

    def names(self) -> frozenset[str]:
        """The canonical names present, aliases folded in, "type" left out."""
        return frozenset([_CANONICAL_NAMES.get(key, key) for key in self._payload if key != "type"])

    def has(self, name: str) -> bool:
        return name in self._payload or ALIASES.get(name, name) in self._payload

    def read(self, name: str, parse: Callable[[object, str], T]) -> T:
        payload = self._payload
        alias = ALIASES.get(name)
        if alias is None or alias not in payload:  # one spelling at most: the common case
            if name not in payload:
                raise BadRequest(f"{name} is required", field=name)
            return parse(payload[name], name)
        aliased_only = name not in payload
        parsed = parse(payload[alias], alias) if aliased_only else parse(payload[name], name)
        if not aliased_only and parsed != parse(payload[alias], alias):
            raise BadRequest(f"{name} and {alias} are both given and differ", field=alias)
        return parsed

    def chain_id(self) -> int:
        if not self.has("chainId"):
            raise BadRequest(
                "chainId is required: signatures without replay protection (pre-EIP-155) are refused",
                field="chainId",
            )
        chain_id = self.read("chainId", _CHAIN_ID)
        if chain_id == 0:
            raise BadRequest("chainId must be at least 1 (EIP-155 replay protection)", field="chainId")
        return chain_id

    def nonce(self) -> int:
        return self.read("nonce", _NONCE)

    def gas(self) -> int:
        return self.read("gas", _GAS)

    def fee(self, name: str) -> int:
        return self.read(name, _FEE)

    def fee_caps(self) -> tuple[int, int]:
        """(maxPriorityFeePerGas, maxFeePerGas) of an EIP-1559 fee market transaction."""
        priority, cap = self.fee("maxPriorityFeePerGas"), self.fee("maxFeePerGas")
        if priority > cap:
            raise BadRequest("maxPriorityFeePerGas exceeds maxFeePerGas", field="maxPriorityFeePerGas")
        return priority, cap

    def to(self) -> bytes | None:
        """The recipient; absent or null means contract creation."""
        if self._payload.get("to") is None:
            return None
        return address(self._payload["to"], "to")

    def recipient(self) -> bytes:
        """The recipient of a transaction type that cannot create contracts."""
        to = self.to()
        if to is None:
            raise BadRequest("to is required: this transaction type cannot create a contract", field="to")
        return to

    def value(self) -> int:
        if "value" not in self._payload:
            return 0
        if self._value_unit == "ether":
            return ether_to_wei(self._payload["value"], "value")
        return quantity(self._payload["value"], "value", bits=VALUE_BITS)

    def data(self) -> bytes:
        if not self.has("data"):
            return b""
        return self.read("data", _DATA)

    def access_list(self) -> tuple[AccessListEntry, ...]:
        if "accessList" not in self._payload:
            return ()
        return access_list(self._payload["accessList"], "accessList")

"""What the API shows of a stored key: docs/api.md's key view, with EIP-55 addresses and RFC 3339 times."""

from __future__ import annotations

import time

from Crypto.Hash import keccak

from nitro_wallet.host.store.records import KeyRecord
from nitro_wallet.wire.errors import InternalError, NitroWalletError
from nitro_wallet.wire.policy import KeyPolicy

ADDRESS_BYTES = 20
_RFC3339_UTC = "%Y-%m-%dT%H:%M:%SZ"
_UPPER_FROM_NIBBLE = 8  # EIP-55: a letter is upper case when its nibble of keccak256(hex) is >= 8


def checksum_address(address: bytes) -> str:
    """EIP-55 text of a 20-byte address (the host computes it itself: it never imports enclave code)."""
    if type(address) is not bytes or len(address) != ADDRESS_BYTES:
        raise InternalError(f"an address is {ADDRESS_BYTES} bytes")
    lower = address.hex()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) >= _UPPER_FROM_NIBBLE else char
        for char, nibble in zip(lower, digest, strict=False)
    )


def rfc3339(seconds: int) -> str:
    return time.strftime(_RFC3339_UTC, time.gmtime(seconds))


def key_view(record: KeyRecord) -> dict[str, object]:
    try:
        policy = KeyPolicy.decode(record.policy).to_json()
    except NitroWalletError:  # the enclave made this encoding: a stored one that does not parse is damage
        raise InternalError(f"key {record.key_id} is stored with a policy that does not decode") from None
    return {
        "key_id": record.key_id,
        "address": record.address,
        "created_at": rfc3339(record.created_at),
        "label": record.label,
        "tags": record.tags,
        "disabled": record.disabled,
        "policy": policy,
        "data_key_ref": record.data_key_ref,
    }

"""The key view: EIP-55 computed on the host (checked against eth-utils), RFC 3339 times, a damaged stored
policy reported as our fault (500), not the caller's.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet.host.api.views import checksum_address, key_view, rfc3339
from nitro_wallet.host.store.records import KeyRecord
from nitro_wallet.wire.errors import InternalError
from nitro_wallet.wire.policy import KeyPolicy


@given(st.binary(min_size=20, max_size=20))
def test_checksum_address_agrees_with_eth_utils(address: bytes) -> None:
    assert checksum_address(address) == to_checksum_address(address)


def test_checksum_address_of_the_eip55_examples() -> None:
    for example in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert checksum_address(bytes.fromhex(example[2:])) == example


@pytest.mark.parametrize("address", [b"", b"\x00" * 19, b"\x00" * 21])
def test_checksum_address_refuses_other_lengths(address: bytes) -> None:
    with pytest.raises(InternalError):
        checksum_address(address)


def test_rfc3339_is_utc_with_z() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1_795_255_200) == "2026-11-21T10:00:00Z"


def record(policy: bytes) -> KeyRecord:
    return KeyRecord("k", "0x" + "00" * 20, policy, "ab", b"blob", 0, label="l", tags={"a": "b"})


def test_key_view() -> None:
    view = key_view(record(KeyPolicy(chain_ids=frozenset({5, 1})).encode()))
    assert view == {
        "key_id": "k",
        "address": "0x" + "00" * 20,
        "created_at": "1970-01-01T00:00:00Z",
        "label": "l",
        "tags": {"a": "b"},
        "disabled": False,
        "policy": {
            "sign_transaction": True,
            "sign_user_operation": True,
            "sign_message": True,
            "sign_typed_data": True,
            "unsafe_sign_digest": False,
            "chain_ids": [1, 5],
        },
        "data_key_ref": "ab",
    }


def test_a_stored_policy_that_does_not_decode_is_an_internal_error() -> None:
    with pytest.raises(InternalError):
        key_view(record(b"\x09"))

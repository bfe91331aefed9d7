"""Transaction encoding, hashing and signing: our path against rlp + eth-account, measured in one run.

    .venv/bin/python bench/eth_transactions.py [--seconds 1.0]

(Not named eth_rlp.py: a script of that name shadows the eth_rlp package that eth-account imports.)

Prints operations per second for each path and the ratio ours / baseline. No assertions: performance
claims come from running this, not from unit tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import rlp as pyrlp
from eth_account import Account

from nitro_wallet.enclave._hazmat.secp256k1 import SigningKey
from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.transactions import parse_transaction

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PAYLOAD = {
    "type": 2,
    "chainId": 1,
    "nonce": 42,
    "gas": 100_000,
    "maxFeePerGas": 100_000_000_000,
    "maxPriorityFeePerGas": 3_000_000_000,
    "to": "0xd3CdA913deB6f67967B99D67aCDFa1712C293601",
    "value": 10**16,
    "data": "0xa9059cbb" + "00" * 64,
    "accessList": [],
}
ITEM = [1, 42, 3_000_000_000, 100_000_000_000, 100_000, b"\xd3" * 20, 10**16, b"\x00" * 68, []]


def rate(operation: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            operation()
        count += 50
    return count / (time.perf_counter() - start)


def ours_sign() -> bytes:
    tx = parse_transaction(PAYLOAD)
    return tx.signed(SIGNING_KEY.sign_digest(tx.signing_digest())).raw


def baseline_sign() -> bytes:
    return bytes(Account.sign_transaction(PAYLOAD, KEY).raw_transaction)


SIGNING_KEY = SigningKey(KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each measurement")
    seconds = parser.parse_args().seconds
    assert ours_sign() == baseline_sign(), "the two paths disagree: nothing to compare"
    rows = [
        ("rlp encode (1559 fields)", lambda: rlp.encode(ITEM), lambda: pyrlp.encode(ITEM)),
        ("parse + hash + sign + encode (type 2)", ours_sign, baseline_sign),
    ]
    print(f"{'operation':40} {'ours/s':>12} {'baseline/s':>12} {'ratio':>8}")
    for name, ours, baseline in rows:
        ours_rate, baseline_rate = rate(ours, seconds), rate(baseline, seconds)
        print(f"{name:40} {ours_rate:12,.0f} {baseline_rate:12,.0f} {ours_rate / baseline_rate:7.1f}x")


if __name__ == "__main__":
    main()

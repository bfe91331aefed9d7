"""EIP-2335 keystores for the validator-key tests: the EIP's own vectors, and keystores these tests build with
hashlib and pyca/cryptography alone (none of the code under test), so every path runs without the vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from py_ecc.bls import G2ProofOfPossession
from py_ecc.optimized_bls12_381 import curve_order

# EIP-2335, "Test Cases": the password and the secret both vectors hold (ethstaker-deposit-cli's tests use
# the same). The password is "testpassword" in MATHEMATICAL FRAKTUR SMALL letters, which NFKD maps to ASCII,
# and a KEY emoji; processed, it is 0x7465737470617373776f7264f09f9491.
EIP2335_PASSWORD = (
    "\U0001d531\U0001d522\U0001d530\U0001d531\U0001d52d\U0001d51e\U0001d530\U0001d530"
    "\U0001d534\U0001d52c\U0001d52f\U0001d521\U0001f511"
)
EIP2335_SECRET = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")


@pytest.fixture(params=["test0", "test1"], ids=["pbkdf2", "scrypt"])
def eip2335_vector(request: pytest.FixtureRequest, vectors: Path) -> tuple[dict[str, Any], str, bytes]:
    """One of the EIP's keystores (test0: pbkdf2, test1: scrypt), its password and the secret it holds."""
    document = json.loads((vectors / "eip2335" / f"{request.param}.json").read_text())
    return document, EIP2335_PASSWORD, EIP2335_SECRET


def random_secret() -> bytes:
    """A uniformly drawn BLS secret key, in [1, r-1]."""
    return (int.from_bytes(os.urandom(48), "big") % (curve_order - 1) + 1).to_bytes(32, "big")


def build_keystore(
    secret: bytes,
    password: str,
    *,
    kdf: str = "pbkdf2",
    c: int = 16,
    n: int = 16,
    r: int = 8,
    p: int = 1,
    pubkey: bytes | None = None,
) -> dict[str, Any]:
    """A version 4 keystore of `secret` under an ASCII `password`, written as EIP-2335 describes."""
    salt, iv = os.urandom(32), os.urandom(16)
    if kdf == "scrypt":
        derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**30, dklen=32)
        params: dict[str, Any] = {"dklen": 32, "n": n, "r": r, "p": p, "salt": salt.hex()}
    else:
        derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, c, 32)
        params = {"dklen": 32, "c": c, "prf": "hmac-sha256", "salt": salt.hex()}
    encryptor = Cipher(algorithms.AES(derived[:16]), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(secret) + encryptor.finalize()
    if pubkey is None:
        pubkey = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
    return {
        "crypto": {
            "kdf": {"function": kdf, "params": params, "message": ""},
            "checksum": {
                "function": "sha256",
                "params": {},
                "message": hashlib.sha256(derived[16:32] + ciphertext).hexdigest(),
            },
            "cipher": {"function": "aes-128-ctr", "params": {"iv": iv.hex()}, "message": ciphertext.hex()},
        },
        "description": "built by the tests",
        "pubkey": pubkey.hex(),
        "path": "m/12381/3600/0/0/0",
        "uuid": str(uuid.uuid4()),
        "version": 4,
    }


@pytest.fixture(name="build_keystore")
def build_keystore_fixture() -> Callable[..., dict[str, Any]]:
    return build_keystore


@pytest.fixture(name="random_secret")
def random_secret_fixture() -> Callable[[], bytes]:
    return random_secret

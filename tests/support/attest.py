"""Attestation documents for Recipient requests, issued by a real EmulatedNsm in the test process.

The NSM is booted on the KMS emulator's own state directory, so its documents chain to the development
root that emulator trusts; a document from any other directory's CA chains to a root it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nitro_wallet.enclave.measurement import Measurement
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.enclave.nsm.emulated import EmulatedNsm

PCR1 = bytes.fromhex("11" * 48)
PCR2 = bytes.fromhex("22" * 48)


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo (DER) of `key`, as an enclave puts it in its attestation document."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def nsm(
    state_dir: Path,
    *,
    pcr0: bytes,
    debug: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> Nsm:
    """An emulated module for `state_dir` that measures `pcr0` (all zeros when `debug`)."""
    measurement = Measurement(pcr0, PCR1, PCR2)
    if clock is None:
        device = EmulatedNsm.create(state_dir, measurement=measurement, debug=debug)
    else:
        device = EmulatedNsm.create(state_dir, measurement=measurement, debug=debug, clock=clock)
    return Nsm(device)


def document(
    state_dir: Path,
    *,
    pcr0: bytes,
    public_key: bytes | None,
    clock: Callable[[], datetime] | None = None,
    debug: bool = False,
) -> bytes:
    """A COSE_Sign1 attestation document over `pcr0` carrying `public_key` (DER SPKI) or none."""
    return nsm(state_dir, pcr0=pcr0, debug=debug, clock=clock).attestation(public_key=public_key)

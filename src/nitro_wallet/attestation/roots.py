"""Trust roots for attestation documents.

The AWS Nitro Enclaves root (G1) signs every real document in the commercial partitions. It is a public
trust anchor, shipped here the way certificate bundles ship theirs, and pinned by its SHA-256 so an edit to
the text below cannot go unnoticed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from nitro_wallet.attestation import devca

AWS_NITRO_ROOT_G1_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

AWS_NITRO_ROOT_G1_PEM = b"""-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
"""


def aws_nitro_root() -> x509.Certificate:
    cert = x509.load_pem_x509_certificate(AWS_NITRO_ROOT_G1_PEM)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    if digest != AWS_NITRO_ROOT_G1_SHA256:
        raise RuntimeError("the embedded AWS Nitro root does not match its pinned SHA-256")
    return cert


def load_root(spec: str, *, state_dir: Path | None = None) -> x509.Certificate:
    """A trust root by name: 'aws', 'dev' (the state directory's development root) or a PEM/DER path."""
    if spec == "aws":
        return aws_nitro_root()
    if spec == "dev":
        if state_dir is None:
            raise ValueError("the dev root needs a state directory")
        try:
            return devca.load_root(state_dir)
        except FileNotFoundError:
            raise ValueError(f"no development CA in {state_dir}: start the local stack once") from None
    data = Path(spec).read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)

"""The development CA that signs emulated attestation documents: root -> intermediate -> leaf, all P-384.

It stands in for the AWS Nitro Attestation PKI. It is created once per state directory; the root key is
discarded after the intermediate is issued (an offline root), the intermediate key stays on disk so the
emulated NSM can issue short-lived leaves. Anyone who can read that key can forge emulated documents,
which is why a production KMS policy never trusts this root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEV_CA_DIR = "dev-ca"
ROOT_FILE = "root.pem"
INTERMEDIATE_FILE = "intermediate.pem"
INTERMEDIATE_KEY_FILE = "intermediate.key"

ROOT_LIFETIME = timedelta(days=30 * 365)
INTERMEDIATE_LIFETIME = timedelta(days=10 * 365)
LEAF_LIFETIME = timedelta(hours=3)  # what real Nitro leaves carry
CLOCK_SKEW = timedelta(minutes=5)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nitro-wallet"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "development (emulated NSM)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: datetime,
    lifetime: timedelta,
    path_length: int | None,
    is_ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
        .add_extension(_key_usage(cert_sign=is_ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    return builder.sign(issuer_key, hashes.SHA384())


@dataclass(frozen=True)
class DevCA:
    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return f"DevCA(root={self.root.subject.rfc4514_string()!r})"

    @property
    def cabundle(self) -> tuple[bytes, ...]:
        """The bundle as documents carry it: [root, intermediates...], DER."""
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in (self.root, self.intermediate))

    def issue_leaf(
        self, common_name: str, now: datetime | None = None
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A fresh P-384 signing key and its short-lived certificate, like a Nitro hypervisor's."""
        now = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP384R1())
        cert = _issue(
            _name(common_name),
            key.public_key(),
            self.intermediate.subject,
            self.intermediate_key,
            not_before=now - CLOCK_SKEW,
            lifetime=LEAF_LIFETIME + CLOCK_SKEW,
            path_length=None,
            is_ca=False,
        )
        return key, cert


def _create(directory: Path) -> None:
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name("nitro-wallet development root")
    root = _issue(
        root_name,
        root_key.public_key(),
        root_name,
        root_key,
        not_before=now - CLOCK_SKEW,
        lifetime=ROOT_LIFETIME,
        path_length=1,
        is_ca=True,
    )
    intermediate_key = ec.generate_private_key(ec.SECP384R1())
    intermediate = _issue(
        _name("nitro-wallet development intermediate"),
        intermediate_key.public_key(),
        root_name,
        root_key,
        not_before=now - CLOCK_SKEW,
        lifetime=INTERMEDIATE_LIFETIME,
        path_length=0,
        is_ca=True,
    )
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    staging.mkdir(mode=0o700, parents=True)
    (staging / ROOT_FILE).write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (staging / INTERMEDIATE_FILE).write_bytes(intermediate.public_bytes(serialization.Encoding.PEM))
    key_path = staging / INTERMEDIATE_KEY_FILE
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            intermediate_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    try:
        staging.rename(directory)  # atomic: a concurrent creator either wins or finds ours
    except OSError:
        for child in staging.iterdir():
            child.unlink()
        staging.rmdir()


def ca_directory(state_dir: Path) -> Path:
    return Path(state_dir) / DEV_CA_DIR


def load_or_create(state_dir: Path) -> DevCA:
    """The state directory's development CA, created on first use."""
    directory = ca_directory(state_dir)
    if not (directory / ROOT_FILE).exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        _create(directory)
    key = serialization.load_pem_private_key((directory / INTERMEDIATE_KEY_FILE).read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / INTERMEDIATE_KEY_FILE} is not an EC private key")
    return DevCA(
        root=load_root(state_dir),
        intermediate=x509.load_pem_x509_certificate((directory / INTERMEDIATE_FILE).read_bytes()),
        intermediate_key=key,
    )


def load_root(state_dir: Path) -> x509.Certificate:
    """The development root certificate, for verifiers. Raises FileNotFoundError if never created."""
    return x509.load_pem_x509_certificate((ca_directory(state_dir) / ROOT_FILE).read_bytes())

"""A small PKI for the eth2 mutual-TLS listener's tests: a CA for validator clients, a server certificate it
signed for one IP address, a client certificate it signed, and a client certificate from another CA."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nitro_wallet.stack.api_server import ClientTls


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def issue(
    name: str,
    issuer: Issued | None,
    *,
    usage: x509.ObjectIdentifier | None = None,
    address: str = "127.0.0.1",
) -> Issued:
    """A day-long certificate for a new P-256 key: a CA (self-signed) without `issuer`, else a leaf for
    `usage` (`address` as its subject alternative name for a server)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(authority, critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([usage or ExtendedKeyUsageOID.CLIENT_AUTH]), False
        )
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))])
        builder = builder.add_extension(san, critical=False)
    if issuer is None:
        usages = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(usages, critical=True)
    return Issued(key, builder.sign(key if issuer is None else issuer.key, hashes.SHA256()))


def write(directory: Path, name: str, issued: Issued) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: ClientTls
    client: tuple[Path, Path]
    foreign_client: tuple[Path, Path]

    def client_context(self, client: tuple[Path, Path] | None) -> ssl.SSLContext:
        """A client's TLS context: trusts the CA, presents `client`'s certificate (none if None)."""
        context = ssl.create_default_context(cafile=self.ca)
        if client is not None:
            context.load_cert_chain(*client)
        return context


def make_pki(directory: Path, server_address: str = "127.0.0.1") -> Pki:
    """The PEM files, written to `directory`; the server's certificate names `server_address`."""
    ca, other_ca = issue("validator clients CA", None), issue("another CA", None)
    ca_path, _ = write(directory, "ca", ca)
    server = issue("signer", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH, address=server_address)
    server_cert, server_key = write(directory, "server", server)
    return Pki(
        ca=ca_path,
        server=ClientTls(cert=server_cert, key=server_key, client_ca=ca_path),
        client=write(directory, "client", issue("validator client", ca)),
        foreign_client=write(directory, "foreign", issue("validator client", other_ca)),
    )

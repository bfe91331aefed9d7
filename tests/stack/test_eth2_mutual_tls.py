"""The eth2 routes' mutual-TLS listener over a real loopback TLS socket: the handshake refuses a client
without a certificate or with one from another CA, and a request from a client whose certificate the CA
signed arrives marked as the listener's, over https."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nitro_wallet.host.api.client_allowlist import MUTUAL_TLS_SCOPE_KEY
from nitro_wallet.stack.api_server import ApiServer, ClientTls

pytestmark = pytest.mark.anyio

GUARD_SECONDS = 20  # only turns a hang (a regression) into a failure; nothing is timed


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def issue(name: str, issuer: Issued | None, *, usage: x509.ObjectIdentifier | None = None) -> Issued:
    """A day-long certificate for a new P-256 key: a CA (self-signed) without `issuer`, else a leaf for
    `usage` (127.0.0.1 as its address for a server)."""
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
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
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


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other_ca = issue("validator clients CA", None), issue("another CA", None)
    ca_path, _ = write(directory, "ca", ca)
    server_cert, server_key = write(
        directory, "server", issue("signer", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    )
    return Pki(
        ca=ca_path,
        server=ClientTls(cert=server_cert, key=server_key, client_ca=ca_path),
        client=write(directory, "client", issue("validator client", ca)),
        foreign_client=write(directory, "foreign", issue("validator client", other_ca)),
    )


async def seen(request: Request) -> JSONResponse:
    return JSONResponse({"scheme": request.scope["scheme"], "marked": MUTUAL_TLS_SCOPE_KEY in request.scope})


@pytest.fixture
async def listener(pki: Pki) -> AsyncIterator[ApiServer]:
    server = ApiServer(Starlette(routes=[Route("/seen", seen)]), "127.0.0.1", 0, client_tls=pki.server)
    await server.start()
    yield server
    await server.stop()


def client_context(pki: Pki, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if client is not None:
        context.load_cert_chain(*client)
    return context


async def test_a_client_with_a_certificate_from_the_ca_is_served_marked(
    pki: Pki, listener: ApiServer
) -> None:
    assert listener.url.startswith("https://127.0.0.1:")
    async with httpx.AsyncClient(verify=client_context(pki, pki.client), base_url=listener.url) as client:
        response = await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"scheme": "https", "marked": True}


@pytest.mark.parametrize("which", ["no certificate", "another CA's certificate"])
async def test_the_handshake_refuses_any_other_client(pki: Pki, listener: ApiServer, which: str) -> None:
    certificate = None if which == "no certificate" else pki.foreign_client
    async with httpx.AsyncClient(verify=client_context(pki, certificate), base_url=listener.url) as client:
        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)


async def test_the_plain_listener_marks_nothing() -> None:
    server = ApiServer(Starlette(routes=[Route("/seen", seen)]), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)
    finally:
        await server.stop()
    assert response.json() == {"scheme": "http", "marked": False}

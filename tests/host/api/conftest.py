"""Fixtures for the HTTP API tests: the app over a real SQLite store, the real Authenticator, and the REAL
enclave process (with a data key from the KMS emulator), driven through httpx's ASGI transport.

The KMS emulator and the enclave are started once per session (`stack`); each test gets its own
EnclaveChannel on its own event loop, its own store and its own app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from nitro_wallet import sigv4
from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from nitro_wallet.host.api import build_app
from nitro_wallet.host.auth import Authenticator, Permission, SigV4Identity, new_api_key
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.store.sqlite import SqliteKeyStore
from support import processes

BASE_URL = "http://testserver"
REGION = processes.REGION
SIGV4_KEY = sigv4.Credential("AKIANWAPITEST0000001", "api-test-secret-0000000000000000000000000", "api-test")


@dataclass(frozen=True)
class Stack:
    state_dir: Path
    kms_url: str
    key_arn: str
    enclave_address: str


def attested_key(state_dir: Path, kms_url: str) -> str:
    """A KMS key whose policy releases data keys to the enclave measured with this endpoint and key."""
    admin = processes.kms_client(state_dir, kms_url)
    key_arn: str = admin.create_key(Policy=json.dumps(key_policy.admin_policy()))["KeyMetadata"]["Arn"]
    pcr0 = measurement.measure(processes.image(kms_url, key_arn)).pcr0
    policy = key_policy.key_policy(pcr0=pcr0.hex())
    admin.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    return key_arn


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("stack")
    with processes.kms_emulator(state_dir) as kms_url:
        key_arn = attested_key(state_dir, kms_url)
        with processes.enclave(state_dir, kms_url, key_arn) as address:
            asyncio.run(processes.prepare_enclave(address, state_dir))
            yield Stack(state_dir, kms_url, key_arn, address)


@pytest.fixture
async def enclave(stack: Stack) -> AsyncIterator[EnclaveClient]:
    async with EnclaveChannel(stack.enclave_address) as channel:
        yield EnclaveClient(channel)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteKeyStore]:
    key_store = SqliteKeyStore(tmp_path / "keys.sqlite")
    yield key_store
    key_store.close()


def authenticator_for(store: SqliteKeyStore, *, dev_no_auth: bool = False) -> Authenticator:
    return Authenticator(
        region=REGION,
        sigv4_credentials={SIGV4_KEY.access_key_id: SigV4Identity(SIGV4_KEY, frozenset(Permission))},
        api_keys=store.get_api_key,
        dev_no_auth=dev_no_auth,
    )


AppFactory = Callable[..., Starlette]
Connect = Callable[..., httpx.AsyncClient]


@pytest.fixture
def make_app(enclave: EnclaveClient, store: SqliteKeyStore) -> AppFactory:
    """build_app with the test's enclave and store and an authenticator over that store; keyword arguments
    override them."""

    def make(**overrides: object) -> Starlette:
        arguments: dict[str, Any] = {"enclave": enclave, "store": store, **overrides}
        arguments.setdefault("authenticator", authenticator_for(arguments["store"]))
        return build_app(**arguments)

    return make


@pytest.fixture
def app(make_app: AppFactory) -> Starlette:
    return make_app()


@pytest.fixture
async def connect(app: Starlette) -> AsyncIterator[Connect]:
    """`connect(*permissions, app=app)`: an httpx client on the app with a new API key holding exactly
    these permissions (none: no Authorization header)."""
    opened: list[httpx.AsyncClient] = []

    def open_client(*permissions: Permission, on: Starlette = app) -> httpx.AsyncClient:
        headers = {}
        if permissions:
            token, record = new_api_key([p.value for p in permissions])
            on.state.context.store.add_api_key(record)
            headers["Authorization"] = f"Bearer {token}"
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=on), base_url=BASE_URL, headers=headers)
        opened.append(http)
        return http

    yield open_client
    for http in opened:
        await http.aclose()


@pytest.fixture
def client(connect: Connect) -> httpx.AsyncClient:
    """A client holding every permission."""
    return connect(*Permission)


@pytest.fixture
def anonymous(connect: Connect) -> httpx.AsyncClient:
    return connect()

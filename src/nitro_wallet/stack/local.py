"""`nitro-wallet up`: the whole local stack on one machine, as the production layout runs on a Nitro host.

    KMS emulator (child) <── host proxy (this process, like vsock-proxy) <── enclave (child, emulated NSM)
                                                                                ▲
    clients ── HTTP ──> host API (this process: auth, SQLite store) ── RPC ──────┘

First run: choose ports, create the KMS key (administration only), measure the enclave image, whose
configuration names that key and the KMS endpoint it reaches through the proxy, then pin the key policy
to that PCR0 and have the enclave generate its data key (KMS answers in CMS only the enclave can open);
the host keeps the data key's KMS ciphertext. Later runs reuse all of it: since the configuration is
measured, the ports and the key are chosen once and kept.

The host API (docs/api.md) accepts AWS SigV4 signed with the `default` profile of DIR/credentials
(region in DIR/config): the stack's administrator, as one IAM user's keys serve every AWS service. Wallet
keys are stored sealed in DIR/wallet.sqlite3. If the enclave process dies, the API answers 503 until `up`
has started a new one and given it its data key again; the stored keys need nothing else.

The same port serves Web3Signer's eth2 API (/api/v1/eth2/...) to validator clients, which cannot sign
SigV4: those routes admit loopback and the networks given with --eth2-allow CIDR, nothing else; with
--eth2-tls-port, also any client of a second, HTTPS listener that requires a certificate signed by
--eth2-client-ca (the other routes still need their credentials there), on --host or on --eth2-tls-host
(so that only it faces the validator clients' network while the API stays on loopback). They sign
for --eth2-network (mainnet by default; sepolia, holesky, hoodi, minimal, or a 0x genesis fork version)
with the validator keys of the validator database, which also holds slashing protection:
DIR/validators.sqlite3, or the PostgreSQL database named by $NITRO_WALLET_VALIDATOR_DB (a libpq conninfo)
when several replicas share one.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from starlette.types import ASGIApp

from nitro_wallet import sigv4
from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy, keymanager_token
from nitro_wallet.host.api.app import build_app
from nitro_wallet.host.api.client_allowlist import ClientAllowlist
from nitro_wallet.host.auth import ALL_PERMISSIONS, Authenticator, SigV4Identity
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient, SplitEnclaves
from nitro_wallet.host.proxy import TcpProxy, Upstream
from nitro_wallet.host.slashing import SlashingStore, validator_db
from nitro_wallet.host.slashing.pruning import prune_periodically
from nitro_wallet.host.sqlite_file import SchemaTooNew
from nitro_wallet.host.store import SqliteKeyStore
from nitro_wallet.kms_emulator import principals
from nitro_wallet.stack import banner, launch
from nitro_wallet.stack.api_server import ApiServer, ClientTls
from nitro_wallet.stack.state import (
    LOOPBACK,
    StackState,
    bootstrap_data_key,
    ensure_key,
    measurement_changed,
    pin_policy,
    profile,
)
from nitro_wallet.stack.supervisor import Child, ChildFailed, Supervisor
from nitro_wallet.transport.address import TcpAddress
from nitro_wallet.wire.errors import KmsDenied, NitroWalletError
from nitro_wallet.wire.eth2_networks import DEFAULT_NETWORK, Network

STORE_FILE = "wallet.sqlite3"
DEFAULT_API_PORT = 8080


ENCLAVE_SOCKETS = {"wallet": "enclave.sock", "signer": "enclave.sock", "generator": "generator.sock"}


@dataclass(frozen=True)
class Eth2TlsListener:
    """The eth2 routes' mutual-TLS listener: its address (the API's, or one of its own), its port and its
    PEM files."""

    host: str
    port: int
    tls: ClientTls


@dataclass
class EnclaveSlot:
    """One enclave process of the stack: its role, its socket, its RPC client, and the process once up."""

    role: str
    address: str
    client: EnclaveClient
    child: Child | None = None


class LocalStack:
    """One `up`: the children, the proxy between them, and the order in which they start and stop.

    One enclave (role `wallet`), or with split roles a `signer` that holds the data keys and a `generator`
    that makes keys and holds none (enclave/generator.py), each measured with its role."""

    def __init__(self, state_dir: Path, state: StackState) -> None:
        self.state_dir = state_dir
        self.state = state
        self.supervisor = Supervisor()
        self.kms_url = f"http://{LOOPBACK}:{state.kms_port}"
        upstream = Upstream(LOOPBACK, state.kms_port)
        self.proxy = TcpProxy(TcpAddress(LOOPBACK, state.kms_proxy_port), upstream, allowlist=[upstream])
        self.enclaves: dict[str, EnclaveSlot] = {}
        for role in ("signer", "generator") if state.split_roles else ("wallet",):
            address = f"unix:{state_dir / ENCLAVE_SOCKETS[role]}"
            self.enclaves[role] = EnclaveSlot(role, address, EnclaveClient(EnclaveChannel(address)))
        self.data_key_ready = False
        self.stopping = False

    @property
    def signer(self) -> EnclaveSlot:
        """The enclave that holds the data keys and signs."""
        return self.enclaves["signer" if self.state.split_roles else "wallet"]

    def api_enclave(self) -> EnclaveClient:
        if not self.state.split_roles:
            return self.signer.client
        return SplitEnclaves(self.signer.client.channel, self.enclaves["generator"].client)

    def image_config(self, role: str) -> dict[str, str]:
        """An enclave image's measured configuration: it reaches KMS only through the host's proxy."""
        assert self.state.kms_key_arn is not None
        return measurement.image_config(
            kms_endpoint=self.proxy.url,
            kms_region=self.state.region,
            kms_key_arn=self.state.kms_key_arn,
            role=role,
        )

    async def start_kms(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "nitro_wallet.cli.main",
            "kms",
            "serve",
            "--state-dir",
            str(self.state_dir),
        ]
        argv += ["--port", str(self.state.kms_port), "--region", self.state.region]
        await self.supervisor.start("kms", argv, ready="KMS emulator listening on")
        await self.proxy.start()

    async def start_enclave(self, slot: EnclaveSlot) -> None:
        argv = launch.enclave_argv(
            slot.address,
            self.image_config(slot.role),
            bytecode_cache=self.state_dir / launch.BYTECODE_CACHE,
            state_dir=self.state_dir,
        )
        name = "enclave" if slot.role == "wallet" else f"{slot.role} enclave"
        slot.child = await self.supervisor.start(
            name, argv, ready="enclave listening on", env=launch.enclave_environment(), restartable=True
        )

    async def bootstrap(self, slot: EnclaveSlot) -> str:
        """Give a freshly started enclave its KMS credentials (and the signer its data key)."""
        if slot.role == "generator":
            await slot.client.set_kms_credentials(**profile(self.state_dir, "generator"))
            return "generator enclave ready: it seals each new key under a data key of its own and keeps none"
        self.data_key_ready = False
        await slot.client.set_kms_credentials(**profile(self.state_dir, "enclave"))
        description = await bootstrap_data_key(slot.client, self.state, self.state_dir)
        self.data_key_ready = True
        return description

    async def keep_enclave(self, slot: EnclaveSlot) -> None:
        """Restart the enclave whenever it ends, until `up` stops. Raises if a restart fails."""
        while True:
            assert slot.child is not None
            status = await slot.child.process.wait()
            if self.is_stopping():
                return
            if slot is self.signer:
                self.data_key_ready = False
            print(
                f"nitro-wallet up: the {slot.child.name} exited (status {status}); starting it again",
                file=sys.stderr,
            )
            await self.supervisor.forget(slot.child)
            await self.start_enclave(slot)
            print(f"nitro-wallet up: {slot.child.name} back; {await self.bootstrap(slot)}", file=sys.stderr)

    def is_stopping(self) -> bool:
        return self.stopping

    def kms_status(self) -> str:
        return "UP" if self.data_key_ready else "DOWN"

    async def stop(self) -> None:
        self.stopping = True
        for slot in self.enclaves.values():
            await slot.client.channel.close()
        await self.supervisor.stop_all()
        await self.proxy.close()


def authenticator(state_dir: Path, region: str, *, store: SqliteKeyStore, dev_no_auth: bool) -> Authenticator:
    """The API's callers: the `default` profile of DIR/credentials (SigV4) and the stored API keys."""
    admin = profile(state_dir, "default")
    credential = sigv4.Credential(
        access_key_id=admin["access_key_id"],
        secret_access_key=admin["secret_access_key"],
        principal_arn=key_policy.DEFAULT_ADMIN_PRINCIPAL,
    )
    return Authenticator(
        region=region,
        sigv4_credentials={credential.access_key_id: SigV4Identity(credential, ALL_PERMISSIONS)},
        api_keys=store.get_api_key,
        dev_no_auth=dev_no_auth,
    )


async def run(
    state_dir: Path,
    *,
    region: str = principals.DEFAULT_REGION,
    host: str = LOOPBACK,
    port: int = DEFAULT_API_PORT,
    dev_no_auth: bool = False,
    split_roles: bool = False,
    eth2_network: Network = DEFAULT_NETWORK,
    eth2_allowlist: ClientAllowlist | None = None,
    eth2_tls: Eth2TlsListener | None = None,
    validator_db_conninfo: str | None = None,
) -> int:
    """Run the stack until SIGINT or SIGTERM. `validator_db_conninfo`: a PostgreSQL validator database
    (never printed), else DIR/validators.sqlite3. `eth2_tls`: also serve the app over mutual TLS."""
    refusal = _dev_no_auth_refusal(host, eth2_tls) if dev_no_auth else None
    if refusal is not None:
        print(f"nitro-wallet up: {refusal}", file=sys.stderr)
        return 2
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    state = StackState.load_or_create(state_dir, region)
    if state.policy_pcr0 is None:
        state.split_roles = split_roles
    elif state.split_roles != split_roles:
        print(_layout_fixed(state_dir, state.split_roles), file=sys.stderr)
        return 2
    state.save(state_dir)
    validators = _open_validator_db(state_dir, validator_db_conninfo)
    if validators is None:
        return 1
    stack = LocalStack(state_dir, state)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    store = SqliteKeyStore(state_dir / STORE_FILE)
    allowlist = eth2_allowlist or ClientAllowlist()
    servers: list[ApiServer] = []
    try:
        await stack.start_kms()
        await asyncio.to_thread(ensure_key, state, state_dir, stack.kms_url)
        pcr0 = {role: measurement.measure(stack.image_config(role)).pcr0 for role in stack.enclaves}
        signer_pcr0 = pcr0[stack.signer.role]
        generator_pcr0 = pcr0.get("generator")
        await asyncio.to_thread(pin_policy, state, state_dir, stack.kms_url, signer_pcr0, generator_pcr0)
        for slot in stack.enclaves.values():
            await stack.start_enclave(slot)
        try:
            ready = [await stack.bootstrap(slot) for slot in stack.enclaves.values()]
        except KmsDenied:
            print(measurement_changed(signer_pcr0), file=sys.stderr)
            return 1
        app = build_app(
            enclave=stack.api_enclave(),
            store=store,
            authenticator=authenticator(state_dir, state.region, store=store, dev_no_auth=dev_no_auth),
            dev_no_auth_warning=dev_no_auth,
            kms_status=stack.kms_status,
            validators=validators,
            eth2_network=eth2_network,
            eth2_allowlist=allowlist,
            keymanager_token=keymanager_token.load_or_create(state_dir),
        )
        await _start_servers(servers, app, host, port, eth2_tls)
        # Everything loaded so far (boto3, botocore, the app) lives as long as the process: moved out of the
        # collector's generations, full collections stop walking it (p99 at 64 clients: ~45 ms -> ~18 ms).
        gc.collect()
        gc.freeze()
        eth2 = banner.Eth2(
            eth2_network.name,
            allowlist,
            validator_db.describe(state_dir, validator_db_conninfo),
            tls=None if eth2_tls is None else (servers[-1].url, eth2_tls.tls.client_ca),
        )
        print(banner.ready(stack, servers[0].url, pcr0=pcr0, enclaves_ready=ready, eth2=eth2), flush=True)
        await _serve(stack, stop, validators)
    except (ChildFailed, NitroWalletError, ClientError, OSError) as exc:
        print(f"nitro-wallet up: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stopping = True
        for server in reversed(servers):
            await server.stop()
        await stack.stop()
        store.close()
        validators.close()
    return 0 if not stack.supervisor.exited_children() else 1


def _dev_no_auth_refusal(host: str, eth2_tls: Eth2TlsListener | None) -> str | None:
    """Why --dev-no-auth cannot serve on these addresses, or None: without authentication every route is
    open, on the mutual-TLS listener as on the API's port, so both must stay on loopback."""
    if host != LOOPBACK:
        return "--dev-no-auth is allowed only with --host 127.0.0.1"
    if eth2_tls is not None and eth2_tls.host != LOOPBACK:
        return "--dev-no-auth is allowed only with --eth2-tls-host 127.0.0.1"
    return None


async def _start_servers(
    servers: list[ApiServer], app: ASGIApp, host: str, port: int, eth2_tls: Eth2TlsListener | None
) -> None:
    """Start the API, then the mutual-TLS listener if asked for; `servers` gets each one before it starts,
    so the caller stops whichever started."""
    servers.append(ApiServer(app, host, port))
    if eth2_tls is not None:
        servers.append(ApiServer(app, eth2_tls.host, eth2_tls.port, client_tls=eth2_tls.tls))
    for server in servers:
        await server.start()


def _open_validator_db(state_dir: Path, conninfo: str | None) -> SlashingStore | None:
    """The validator database, or None after saying why it cannot be opened (never with the conninfo)."""
    try:
        return validator_db.open_validator_db(state_dir, conninfo)
    except (NitroWalletError, SchemaTooNew, sqlite3.Error, OSError) as exc:
        where = validator_db.describe(state_dir, conninfo)
        message = exc.message if isinstance(exc, NitroWalletError) else str(exc)
        print(f"nitro-wallet up: cannot open the validator database {where}: {message}", file=sys.stderr)
        return None


def _layout_fixed(state_dir: Path, split_roles: bool) -> str:
    made, asked = ("with", "without") if split_roles else ("without", "with")
    return (
        f"nitro-wallet up: {state_dir} was created {made} --split-roles; it cannot be started {asked}.\n"
        "The enclave's role is part of its measurement, which the KMS key policy is pinned to: start it as\n"
        "it was created, or use another --state-dir."
    )


async def _serve(stack: LocalStack, stop: asyncio.Event, validators: SlashingStore) -> None:
    """Keep the enclaves running and the slashing tables pruned until `up` is stopped."""
    keepers = [asyncio.create_task(stack.keep_enclave(slot)) for slot in stack.enclaves.values()]
    pruner = asyncio.create_task(prune_periodically(validators))
    try:
        await _until_stopped(stop, stack.supervisor, keepers)
    finally:
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)


async def _until_stopped(
    stop: asyncio.Event, supervisor: Supervisor, keepers: list[asyncio.Task[None]]
) -> None:
    stopped = asyncio.create_task(stop.wait())
    exited = asyncio.create_task(supervisor.exited.wait())
    await asyncio.wait({stopped, exited, *keepers}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stopped, exited):
        task.cancel()
    failed = [keeper for keeper in keepers if keeper.done()]
    if failed:
        print(
            f"nitro-wallet up: stopping, an enclave could not be restarted: {failed[0].exception()}",
            file=sys.stderr,
        )
    elif supervisor.exited.is_set():
        print(
            f"nitro-wallet up: stopping, a child ended: {', '.join(supervisor.exited_children())}",
            file=sys.stderr,
        )
    else:
        print("nitro-wallet up: stopping")
    for keeper in keepers:
        keeper.cancel()

"""`nitro-wallet up`: start the whole local stack in the foreground; Ctrl-C or SIGTERM stops it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import uvloop

from nitro_wallet.cli import options
from nitro_wallet.host.api.client_allowlist import ClientAllowlist, Network, parse_network
from nitro_wallet.host.slashing.validator_db import VALIDATOR_DB_ENV
from nitro_wallet.stack import local, state
from nitro_wallet.stack.api_server import ClientTls
from nitro_wallet.wire import eth2_networks
from nitro_wallet.wire.errors import BadRequest


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "up",
        help="start the local stack (KMS emulator, emulated enclave, host)",
        description=local.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_state_dir(command)
    command.add_argument("--region", default="us-east-1", help="the KMS region (default: %(default)s)")
    command.add_argument("--host", default=state.LOOPBACK, help="the API's address (default: %(default)s)")
    command.add_argument(
        "--port",
        type=int,
        default=local.DEFAULT_API_PORT,
        help="the API's port, 0 for any (default: %(default)s)",
    )
    command.add_argument(
        "--dev-no-auth",
        action="store_true",
        help="DANGEROUS, development only: serve the API without authentication (loopback only)",
    )
    command.add_argument(
        "--split-roles",
        action="store_true",
        help="the AWS reference's layout: a generator enclave makes keys and can never decrypt one; only the "
        "signer enclave may (fixed when the state directory is created)",
    )
    command.add_argument(
        "--eth2-network",
        type=_eth2_network,
        default=eth2_networks.DEFAULT_NETWORK,
        metavar="NETWORK",
        help=f"the Eth2 network validators sign for: {', '.join(eth2_networks.NETWORKS)}, or a 0x genesis"
        f" fork version (mainnet preset) (default: {eth2_networks.DEFAULT_NETWORK.name})",
    )
    command.add_argument(
        "--eth2-allow",
        type=_cidr,
        action="append",
        default=[],
        metavar="CIDR",
        help="also admit validator clients from this network to the Web3Signer eth2 routes, which take no"
        " credentials (repeatable; loopback is always admitted; needs --host beyond 127.0.0.1)",
    )
    tls = command.add_argument_group(
        "eth2 mutual TLS",
        "a second, HTTPS listener for validator clients: a client certificate signed by the CA admits them to"
        " the eth2 routes from any address (give the four PORT and PEM options, or none)",
    )
    tls.add_argument(
        "--eth2-tls-host",
        metavar="ADDR",
        help="its address (default: --host), e.g. an interface the validator clients reach while the API"
        " stays on loopback",
    )
    tls.add_argument("--eth2-tls-port", type=_port, metavar="PORT", help="its port (0 for any)")
    tls.add_argument("--eth2-tls-cert", type=Path, metavar="CERT.pem", help="its certificate (chain)")
    tls.add_argument("--eth2-tls-key", type=Path, metavar="KEY.pem", help="its private key")
    tls.add_argument(
        "--eth2-client-ca", type=Path, metavar="CA.pem", help="the CA the clients' certificates must chain to"
    )
    command.set_defaults(run=run_up)


TLS_OPTIONS = ("--eth2-tls-port", "--eth2-tls-cert", "--eth2-tls-key", "--eth2-client-ca")
MAX_PORT = 65535


def _eth2_network(text: str) -> eth2_networks.Network:
    try:
        return eth2_networks.network_named(text)
    except BadRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _cidr(text: str) -> Network:
    try:
        return parse_network(text)
    except BadRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to {MAX_PORT})")
    return int(text)


def eth2_tls_listener(args: argparse.Namespace) -> local.Eth2TlsListener | None:
    """The mutual-TLS listener the options name (on --eth2-tls-host, else --host), None without them;
    BadRequest if only some are given, --eth2-tls-host without them, or a file is missing."""
    given = {option: getattr(args, option[2:].replace("-", "_")) for option in TLS_OPTIONS}
    missing = [option for option, value in given.items() if value is None]
    if len(missing) == len(TLS_OPTIONS):
        if args.eth2_tls_host is not None:
            raise BadRequest(
                f"--eth2-tls-host is the mutual-TLS listener's address: it needs {', '.join(TLS_OPTIONS)}",
                field="--eth2-tls-host",
            )
        return None
    if missing:
        raise BadRequest(
            f"{', '.join(TLS_OPTIONS)} go together: missing {', '.join(missing)}", field=missing[0]
        )
    for option, value in given.items():
        if isinstance(value, Path) and not value.is_file():
            raise BadRequest(f"{option}: no such file: {value}", field=option)
    tls = ClientTls(cert=args.eth2_tls_cert, key=args.eth2_tls_key, client_ca=args.eth2_client_ca)
    host = args.host if args.eth2_tls_host is None else args.eth2_tls_host
    return local.Eth2TlsListener(host=host, port=args.eth2_tls_port, tls=tls)


def run_up(args: argparse.Namespace) -> int:
    try:
        allowlist = ClientAllowlist(args.eth2_allow)
    except BadRequest as exc:
        print(f"nitro-wallet up: --eth2-allow: {exc.message}", file=sys.stderr)
        return options.EXIT_USAGE
    try:
        eth2_tls = eth2_tls_listener(args)
    except BadRequest as exc:
        print(f"nitro-wallet up: {exc.message}", file=sys.stderr)
        return options.EXIT_USAGE
    main = local.run(
        options.state_dir(args),
        region=args.region,
        host=args.host,
        port=args.port,
        dev_no_auth=args.dev_no_auth,
        split_roles=args.split_roles,
        eth2_network=args.eth2_network,
        eth2_allowlist=allowlist,
        eth2_tls=eth2_tls,
        validator_db_conninfo=os.environ.get(VALIDATOR_DB_ENV) or None,
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)

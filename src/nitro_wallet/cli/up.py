"""`nitro-wallet up`: start the whole local stack in the foreground; Ctrl-C or SIGTERM stops it."""

from __future__ import annotations

import argparse
import asyncio

import uvloop

from nitro_wallet.cli import options
from nitro_wallet.stack import local


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "up",
        help="start the local stack (KMS emulator, emulated enclave, host)",
        description=local.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_state_dir(command)
    command.add_argument("--region", default="us-east-1", help="the KMS region (default: %(default)s)")
    command.add_argument("--host", default=local.LOOPBACK, help="the API's address (default: %(default)s)")
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
    command.set_defaults(run=run_up)


def run_up(args: argparse.Namespace) -> int:
    main = local.run(
        options.state_dir(args),
        region=args.region,
        host=args.host,
        port=args.port,
        dev_no_auth=args.dev_no_auth,
        split_roles=args.split_roles,
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)

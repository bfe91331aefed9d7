"""`nitro-wallet up`: start the whole local stack in the foreground; Ctrl-C or SIGTERM stops it."""

from __future__ import annotations

import argparse
import asyncio

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
    command.set_defaults(run=run_up)


def run_up(args: argparse.Namespace) -> int:
    return asyncio.run(local.run(options.state_dir(args), region=args.region))

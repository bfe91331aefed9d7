"""Entry point of the `nitro-wallet` command. Each command group lives in its own module and registers
itself here; a command returns its exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nitro_wallet import __version__
from nitro_wallet.cli import api_keys, attestation, enclave, keys, kms, sign, slashing, up, validators

COMMAND_GROUPS = (up, keys, sign, api_keys, enclave, kms, attestation, slashing, validators)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nitro-wallet",
        description="Keys in plaintext only inside an AWS Nitro Enclave (or its local emulation).",
    )
    parser.add_argument("--version", action="version", version=f"nitro-wallet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())

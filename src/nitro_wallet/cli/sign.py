"""`nitro-wallet sign tx|userop|userop-hash|message|typed-data|authorization KEY_ID PAYLOAD_FILE|-`.

The payload file's JSON text is sent exactly as written (numbers keep their digits), and the request's
HMAC is computed here with the key's secret, which never leaves this process. Raw digests
(`unsafe-digest`) are signed only through the library, on purpose: the command line offers safe verbs.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from types import MappingProxyType

from nitro_wallet.cli.api_options import (
    SECRET_HELP,
    api_options,
    command_parser,
    open_client,
    read_secret,
    read_text,
    run_guarded,
    secret_options,
)
from nitro_wallet.wire.request_auth import MAX_PAYLOAD_BYTES

# command -> (the API's sign kind, what the payload file holds)
COMMANDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "tx": ("transaction", "a transaction (legacy, 1, 2, 3 or 4), amounts in wei"),
        "userop": (
            "user-operation",
            'an ERC-4337 user operation: {"userOperation", "entryPoint", "chainId", "entryPointVersion"}',
        ),
        "userop-hash": ("user-operation-hash", '{"userOpHash"}, signed as an EIP-191 message'),
        "message": ("message", '{"message", "encoding": "utf8" | "hex"}, signed as EIP-191'),
        "typed-data": ("typed-data", 'EIP-712 typed data: {"types", "primaryType", "domain", "message"}'),
        "authorization": ("authorization", "an EIP-7702 authorization"),
    }
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "sign", help="sign with a wallet key through the host API", description=SECRET_HELP
    )
    sub = group.add_subparsers(dest="sign_command", required=True, metavar="KIND")
    for name, (kind, holds) in COMMANDS.items():
        command = command_parser(
            sub,
            name,
            help=f"sign {holds}",
            description=f"Sign the JSON in PAYLOAD_FILE ({holds}) as `{kind}`. {SECRET_HELP}",
            parents=[api_options(), secret_options()],
        )
        command.add_argument("key_id", metavar="KEY_ID")
        command.add_argument("payload", metavar="PAYLOAD_FILE|-", help="the payload's JSON; - reads stdin")
        command.set_defaults(run=run_guarded(_sign), kind=kind)


def _sign(args: argparse.Namespace) -> object:
    secret = read_secret(args)
    payload = read_text(args.payload, MAX_PAYLOAD_BYTES, "PAYLOAD_FILE")
    with open_client(args) as client:
        return client.sign(args.key_id, args.kind, payload, secret)

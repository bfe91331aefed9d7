"""`nitro-wallet keys create|import|list|get|disable|enable|delete`: wallet keys through the host's API.

Each sub-command registers itself in `register()` through its own `_register_<name>()` function; the options
and plumbing they share with `nitro-wallet sign` live in `cli.api_options`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from nitro_wallet.cli.api_options import (
    SECRET_HELP,
    CommandFailed,
    api_options,
    command_parser,
    open_client,
    read_environment,
    read_secret,
    read_secret_file,
    read_text,
    refuse_on_command_line,
    run_guarded,
    secret_options,
)

KEYSTORE_PASSWORD_ENV = "NITRO_WALLET_KEYSTORE_PASSWORD"  # noqa: S105 (the variable's name)
MAX_KEY_FILE_BYTES = 64 * 1024  # a keystore is ~1 KiB; a hex private key 66 bytes


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("keys", help="create, import and manage wallet keys through the host API")
    sub = group.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    _register_create(sub)
    _register_import(sub)
    _register_list(sub)
    for name, action, summary in (
        ("get", _get, "show one key"),
        ("disable", _disable, "disable a key: it signs nothing until enabled"),
        ("enable", _enable, "enable a disabled key"),
        ("delete", _delete, "delete a key for good"),
    ):
        command = command_parser(sub, name, help=summary, parents=[api_options()])
        command.add_argument("key_id", metavar="KEY_ID")
        command.set_defaults(run=run_guarded(action))


def _key_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--label", help="a label to store with the key")
    command.add_argument(
        "--tag", action="append", default=[], type=_tag, metavar="NAME=VALUE", help="a tag (repeatable)"
    )
    command.add_argument("--policy-file", type=Path, metavar="PATH", help="the key's policy (a JSON object)")
    command.add_argument(
        "--no-seal",
        dest="sealed",
        action="store_false",
        help="send the secret (and private key) to the host in the clear, as the AWS reference does; by "
        "default they are sealed to the enclave's attested transport key, which the host cannot open",
    )
    command.add_argument(
        "--root",
        default="dev",
        metavar="aws|dev|PATH",
        help="the root the enclave's attestation must chain to before anything is sealed to it: the AWS "
        "Nitro root, the state directory's development root (default), or a certificate file",
    )
    command.add_argument(
        "--expect-pcr",
        action="append",
        default=[],
        type=_pcr,
        metavar="N=HEX",
        help="require the enclave's PCR N to equal HEX before sealing (repeatable)",
    )


def _tag(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _pcr(text: str) -> tuple[int, bytes]:
    index, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError(text)
        return int(index), bytes.fromhex(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N=HEX, got {text!r}") from None


def _register_create(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = command_parser(
        sub,
        "create",
        help="create a key inside the enclave",
        description=f"Create a key from the enclave's entropy. {SECRET_HELP}",
        parents=[api_options(), secret_options()],
    )
    _key_options(command)
    command.set_defaults(run=run_guarded(_create))


def _register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = command_parser(
        sub,
        "import",
        help="import a private key or a keystore",
        description="Import a private key (64 hex characters, from --private-key-file or stdin) or a Web3 "
        f"keystore (--keystore-file, its password from {KEYSTORE_PASSWORD_ENV} or --password-file). "
        f"{SECRET_HELP} Private keys and passwords are never taken from the command line either.",
        parents=[api_options(), secret_options()],
    )
    source = command.add_mutually_exclusive_group()
    source.add_argument("--private-key-file", type=Path, metavar="PATH", help="the private key, hex")
    source.add_argument("--keystore-file", type=Path, metavar="PATH", help="a Web3 Secret Storage keystore")
    command.add_argument("--password-file", type=Path, metavar="PATH", help="the keystore's password")
    refuse_on_command_line(command, "--private-key", "use --private-key-file PATH or stdin")
    refuse_on_command_line(command, "--password", f"set {KEYSTORE_PASSWORD_ENV} or use --password-file PATH")
    _key_options(command)
    command.set_defaults(run=run_guarded(_import))


def _register_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = command_parser(sub, "list", help="list keys, one page or --all", parents=[api_options()])
    command.add_argument("--limit", type=int, metavar="N", help="keys per page")
    command.add_argument("--cursor", metavar="CURSOR", help="the next_cursor of the previous page")
    command.add_argument("--all", action="store_true", help="every key, fetching page after page")
    command.set_defaults(run=run_guarded(_list))


def _key_arguments(args: argparse.Namespace) -> dict[str, Any]:
    policy = None
    if args.policy_file is not None:
        try:
            policy = json.loads(read_text(args.policy_file, MAX_KEY_FILE_BYTES, "--policy-file"))
        except ValueError:
            raise CommandFailed(f"--policy-file: {args.policy_file} is not JSON") from None
    return {"sealed": args.sealed, "label": args.label, "tags": dict(args.tag) or None, "policy": policy}


def _create(args: argparse.Namespace) -> object:
    secret = read_secret(args)
    with open_client(args, sealing=args.sealed) as client:
        return client.create_key(secret, **_key_arguments(args)).key.to_json()


def _import(args: argparse.Namespace) -> object:
    secret = read_secret(args)
    material: dict[str, Any] = {}
    if args.keystore_file is not None:
        material["keystore"] = read_text(args.keystore_file, MAX_KEY_FILE_BYTES, "--keystore-file")
        if args.password_file is not None:
            material["password"] = read_secret_file(args.password_file, "--password-file")
        else:
            material["password"] = read_environment(KEYSTORE_PASSWORD_ENV)
    else:
        material["private_key"] = _private_key(args.private_key_file)
    with open_client(args, sealing=args.sealed) as client:
        return client.import_key(secret=secret, **material, **_key_arguments(args)).key.to_json()


def _private_key(path: Path | None) -> str:
    if path is None and sys.stdin.isatty():
        return getpass.getpass("private key (hex): ").strip()
    return read_text(path or "-", MAX_KEY_FILE_BYTES, "--private-key-file").strip()


def _list(args: argparse.Namespace) -> object:
    with open_client(args) as client:
        if args.all:
            return {"keys": [key.to_json() for key in client.iter_keys(args.limit)], "next_cursor": None}
        return client.list_keys(args.limit, args.cursor).to_json()


def _get(args: argparse.Namespace) -> object:
    with open_client(args) as client:
        return client.get_key(args.key_id).to_json()


def _disable(args: argparse.Namespace) -> object:
    with open_client(args) as client:
        return client.disable_key(args.key_id).to_json()


def _enable(args: argparse.Namespace) -> object:
    with open_client(args) as client:
        return client.enable_key(args.key_id).to_json()


def _delete(args: argparse.Namespace) -> object:
    with open_client(args) as client:
        client.delete_key(args.key_id)
    return {"key_id": args.key_id, "deleted": True}

"""`nitro-wallet keys create|import|migrate|list|get|disable|enable|delete`: wallet keys through the host API.

Each sub-command registers itself in `register()` through its own `_register_<name>()` function; the options
and plumbing they share with `nitro-wallet sign` live in `cli.api_options`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nitro_wallet.cli import options
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
    sealing_options,
    secret_options,
)
from nitro_wallet.client import ClientError, WalletApiError, WalletClient
from nitro_wallet.wire.errors import ErrorCode, NitroWalletError

KEYSTORE_PASSWORD_ENV = "NITRO_WALLET_KEYSTORE_PASSWORD"  # noqa: S105 (the variable's name)
MAX_KEY_FILE_BYTES = 64 * 1024  # a keystore is ~1 KiB; a hex private key 66 bytes
MAX_EXPORT_FILE_BYTES = 16 * 1024 * 1024  # a reference table item is ~0.6 KiB: ~25,000 keys a file


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("keys", help="create, import and manage wallet keys through the host API")
    sub = group.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    _register_create(sub)
    _register_import(sub)
    _register_migrate(sub)
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


def _record_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--label", help="a label to store with the key")
    command.add_argument(
        "--tag", action="append", default=[], type=_tag, metavar="NAME=VALUE", help="a tag (repeatable)"
    )
    command.add_argument("--policy-file", type=Path, metavar="PATH", help="the key's policy (a JSON object)")


def _key_options(command: argparse.ArgumentParser) -> None:
    _record_options(command)
    sealing_options(
        command,
        clear_help="send the secret (and private key) to the host in the clear, as the AWS reference does; "
        "by default they are sealed to the enclave's attested transport key, which the host cannot open",
    )


def _tag(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


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


def _register_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = command_parser(
        sub,
        "migrate",
        help="migrate the AWS reference's keys, keeping their ids",
        description="Migrate the keys of the AWS reference's DynamoDB table: FILE holds its items "
        '({"key_id", "ciphertext", "address"}, plain or in DynamoDB JSON) as a JSON array, the output of '
        "`aws dynamodb scan`, or JSON Lines (a DynamoDB export). Each key's KMS ciphertext goes to the "
        "enclave, which decrypts it under the reference's KMS key of its measured configuration; the key "
        'keeps its id, address and secret. One JSON line per key: status "migrated", "exists" (already '
        'here: running the migration again is safe) or "error". Exit status 0 when no key failed. A '
        "failure that is not about one key (credentials, permission, the reference key's policy, the host "
        "unreachable) stops the run.",
        parents=[api_options()],
    )
    command.add_argument("file", type=Path, metavar="FILE", help="the table's items (- for stdin)")
    _record_options(command)
    command.set_defaults(run=_run_migrate)


def _register_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = command_parser(sub, "list", help="list keys, one page or --all", parents=[api_options()])
    command.add_argument("--limit", type=int, metavar="N", help="keys per page")
    command.add_argument("--cursor", metavar="CURSOR", help="the next_cursor of the previous page")
    command.add_argument("--all", action="store_true", help="every key, fetching page after page")
    command.set_defaults(run=run_guarded(_list))


def _record_arguments(args: argparse.Namespace) -> dict[str, Any]:
    policy = None
    if args.policy_file is not None:
        try:
            policy = json.loads(read_text(args.policy_file, MAX_KEY_FILE_BYTES, "--policy-file"))
        except ValueError:
            raise CommandFailed(f"--policy-file: {args.policy_file} is not JSON") from None
    return {"label": args.label, "tags": dict(args.tag) or None, "policy": policy}


def _key_arguments(args: argparse.Namespace) -> dict[str, Any]:
    return {"sealed": args.sealed, **_record_arguments(args)}


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


@dataclass(frozen=True)
class ReferenceKey:
    """One item of the reference's DynamoDB table (attributes key_id, ciphertext, address)."""

    key_id: str
    ciphertext: bytes
    address: str | None


def _run_migrate(args: argparse.Namespace) -> int:
    """Prints one JSON line per key as each is done; a failure of the run is reported by `run_guarded`."""
    try:
        _migrate(args)
    except (CommandFailed, ClientError, NitroWalletError) as exc:
        failure = exc

        def report(_: argparse.Namespace) -> object:
            raise failure

        return run_guarded(report)(args)
    return options.EXIT_OK


def _migrate(args: argparse.Namespace) -> None:
    keys = reference_keys(read_text(args.file, MAX_EXPORT_FILE_BYTES, "FILE"), str(args.file))
    record = _record_arguments(args)
    failed = 0
    with open_client(args) as client:
        for key in keys:
            line = _migrate_one(client, key, record)
            failed += line["status"] == "error"
            print(json.dumps(line), flush=True)
    if failed:
        raise CommandFailed(f"{failed} of {len(keys)} keys were not migrated (see their lines)")


def _migrate_one(client: WalletClient, key: ReferenceKey, record: dict[str, Any]) -> dict[str, object]:
    """A 400 is about this key and a 409 says it is here already; any other error would fail every key
    (credentials, permission, the reference key's policy, the enclave) and stops the run."""
    try:
        migrated = client.migrate_key(key.ciphertext, key_id=key.key_id, address=key.address, **record)
    except WalletApiError as exc:
        line: dict[str, object] = {"key_id": key.key_id, "address": key.address}
        if exc.code == ErrorCode.CONFLICT:
            return {**line, "status": "exists"}
        if exc.code == ErrorCode.BAD_REQUEST:
            return {**line, "status": "error", "error": str(exc)}
        raise
    return {"key_id": migrated.key_id, "address": migrated.address, "status": "migrated"}


def reference_keys(text: str, where: str) -> list[ReferenceKey]:
    """The items of a reference table export, every one checked before anything is migrated."""
    items = _export_items(text, where)
    if not items:
        raise CommandFailed(f"{where} holds no keys")
    keys = [_reference_key(item, f"{where}: item {number}") for number, item in enumerate(items, 1)]
    seen: set[str] = set()
    for key in keys:
        if key.key_id in seen:
            raise CommandFailed(f"{where}: key_id {key.key_id!r} appears twice")
        seen.add(key.key_id)
    return keys


def _export_items(text: str, where: str) -> list[object]:
    """A JSON array of items, `aws dynamodb scan` output ({"Items": [...]}), or JSON Lines of items or of
    {"Item": item} (a DynamoDB export to S3)."""
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        return [_json_line(line, f"{where}: line {number}") for number, line in _lines(text)]
    if isinstance(whole, dict) and "Items" in whole:
        whole = whole["Items"]
        if not isinstance(whole, list):
            raise CommandFailed(f"{where}: Items is not a JSON array")
    return whole if isinstance(whole, list) else [whole]


def _lines(text: str) -> Iterator[tuple[int, str]]:
    return ((number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip())


def _json_line(line: str, where: str) -> object:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise CommandFailed(f"{where} is not JSON") from None


def _reference_key(item: object, where: str) -> ReferenceKey:
    if isinstance(item, dict) and list(item) == ["Item"]:
        item = item["Item"]
    if not isinstance(item, dict):
        raise CommandFailed(f"{where} is not a JSON object")
    key_id = _attribute(item, "key_id", where)
    ciphertext = _attribute(item, "ciphertext", where)
    if key_id is None or ciphertext is None:
        missing = "key_id" if key_id is None else "ciphertext"
        raise CommandFailed(f"{where} has no {missing}")
    try:
        blob = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise CommandFailed(f"{where}: ciphertext is not base64") from None
    return ReferenceKey(key_id, blob, _attribute(item, "address", where))


def _attribute(item: dict[str, object], name: str, where: str) -> str | None:
    """A string attribute, plain or in DynamoDB JSON ({"S": "..."}); None when absent."""
    value = item.get(name)
    if isinstance(value, dict) and list(value) == ["S"]:
        value = value["S"]
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise CommandFailed(f"{where}: {name} must be non-empty text")
    return value


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

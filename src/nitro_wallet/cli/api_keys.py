"""`nitro-wallet api-keys create|list`: bearer tokens for the host API, kept in the state directory's store.

These commands open DIR/wallet.sqlite3 directly rather than going through the API: whoever can write the
state directory already holds the stack's administrator credentials (DIR/credentials). The store is in WAL
mode and `up` looks API keys up on every request, so a key minted while `up` runs works at once. A token
is printed once, at creation; the store keeps only the SHA-256 of its secret, and `list` shows neither.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nitro_wallet.cli import options
from nitro_wallet.cli.api_options import CommandFailed, command_parser, run_guarded
from nitro_wallet.host.api.views import rfc3339
from nitro_wallet.host.credentials import Permission, new_api_key, parse_permissions
from nitro_wallet.host.store import ApiKeyRecord, SchemaTooNew, SqliteKeyStore
from nitro_wallet.stack.local import STORE_FILE
from nitro_wallet.wire.errors import BadRequest

SHOWN_ONCE = "nitro-wallet: store this API key now; it cannot be shown again (only its hash is kept)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("api-keys", help="mint and list API keys, bearer tokens for the host API")
    sub = group.add_subparsers(dest="api_keys_command", required=True, metavar="COMMAND")
    known = ", ".join(permission.value for permission in Permission)
    create = command_parser(
        sub,
        "create",
        help="mint an API key and print it (once)",
        description="Mint an API key, store the hash of its secret in STATE_DIR/"
        f"{STORE_FILE}, and print the token once. Works whether or not `nitro-wallet up` is running.",
    )
    create.add_argument(
        "--permissions",
        required=True,
        type=_permissions,
        metavar="NAME[,NAME...]",
        help=f"what the key may do, comma-separated: {known}",
    )
    create.add_argument("--label", help="a label to store with the key")
    options.add_state_dir(create)
    create.set_defaults(run=run_guarded(_create))
    listing = command_parser(
        sub, "list", help="list API keys: ids, labels, permissions, creation times (never secrets)"
    )
    options.add_state_dir(listing)
    listing.set_defaults(run=run_guarded(_list))


def _permissions(text: str) -> frozenset[Permission]:
    try:
        return parse_permissions(name for name in (part.strip() for part in text.split(",")) if name)
    except BadRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _create(args: argparse.Namespace) -> object:
    token, record = new_api_key(args.permissions, label=args.label)
    with _store(options.state_dir(args)) as store:
        store.add_api_key(record)
    print(SHOWN_ONCE, file=sys.stderr)
    return {
        "api_key": token,
        "key_id": record.key_id,
        "permissions": sorted(record.permissions),
        "label": record.label,
    }


def _list(args: argparse.Namespace) -> object:
    state_dir = options.state_dir(args)
    if not (state_dir / STORE_FILE).exists():  # listing creates nothing
        _check_state_dir(state_dir)
        return {"api_keys": []}
    with _store(state_dir) as store:
        return {"api_keys": [_view(record) for record in store.list_api_keys()]}


def _view(record: ApiKeyRecord) -> dict[str, object]:
    """What `list` shows of a key: never its secret or the secret's hash."""
    return {
        "key_id": record.key_id,
        "label": record.label,
        "permissions": sorted(record.permissions),
        "created_at": rfc3339(record.created_at),
    }


def _check_state_dir(state_dir: Path) -> None:
    if not state_dir.is_dir():
        raise CommandFailed(
            f"no state directory {state_dir}: run `nitro-wallet up` once, or pass --state-dir DIR"
        )


@contextmanager
def _store(state_dir: Path) -> Iterator[SqliteKeyStore]:
    """The state directory's key store, open for one command; its failures as one-line errors."""
    _check_state_dir(state_dir)
    path = state_dir / STORE_FILE
    try:
        store = SqliteKeyStore(path)
    except (OSError, sqlite3.Error, SchemaTooNew) as exc:
        raise CommandFailed(f"cannot open the key store {path}: {exc}") from None
    try:
        yield store
    except (sqlite3.Error, ValueError) as exc:  # ValueError: a field the store refuses, named
        raise CommandFailed(f"the key store {path}: {exc}") from None
    finally:
        store.close()

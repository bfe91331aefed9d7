"""`nitro-wallet slashing import FILE | export FILE | prune | high-watermark set|remove|show`: EIP-3076
slashing-protection interchange (format 5), pruning, and the operator-set high watermark.

The commands open the validator database directly, the one `nitro-wallet up` uses: the PostgreSQL
database named by $NITRO_WALLET_VALIDATOR_DB when it is set (a libpq conninfo, taken from the environment
only, as it may hold a password), else STATE_DIR/validators.sqlite3; `--postgres` insists on the former.
Import merges the file's maximum slot and epochs into each validator's low watermark; export writes every
validator (or those named by --pubkey). EIP-3076 advises doing both while no signer uses the database.

`high-watermark set --epoch E --slot S` (Web3Signer's `watermark-repair --set-high-watermark`) makes every
signer sharing the database refuse blocks at or above slot S and attestations with a source or target at
or above epoch E, from its next signature on: set it on the old cluster before validators move to another.
`remove` clears it; `show` prints it (`{}` when none is set). It is not part of the interchange format.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nitro_wallet.cli import options
from nitro_wallet.cli.api_options import CommandFailed, command_parser, read_text, run_guarded
from nitro_wallet.host.slashing import SlashingStore, export_interchange, import_interchange
from nitro_wallet.host.slashing.interchange import MAX_INTERCHANGE_BYTES
from nitro_wallet.host.slashing.rules import HighWatermark
from nitro_wallet.host.slashing.store import DEFAULT_KEEP_EPOCHS, PUBKEY_BYTES
from nitro_wallet.host.slashing.validator_db import VALIDATOR_DB_ENV, VALIDATOR_DB_FILE, open_validator_db
from nitro_wallet.host.sqlite_file import SchemaTooNew

QUIESCE = "stop every signer that uses the database first (EIP-3076)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "slashing", help="slashing protection: EIP-3076 import and export, pruning, the high watermark"
    )
    sub = group.add_subparsers(dest="slashing_command", required=True, metavar="COMMAND")
    importing = command_parser(
        sub,
        "import",
        help="merge an EIP-3076 interchange file into the slashing-protection database",
        description=f"Merge an EIP-3076 (format 5) file, or '-' for stdin; {QUIESCE}.",
    )
    importing.add_argument("file", metavar="FILE", help="the interchange file, or - for stdin")
    _add_database(importing)
    importing.set_defaults(run=run_guarded(_import))
    exporting = command_parser(
        sub,
        "export",
        help="write the slashing-protection database as an EIP-3076 interchange file",
        description=f"Write an EIP-3076 (format 5) file; {QUIESCE}.",
    )
    exporting.add_argument("file", metavar="FILE", type=Path, help="where to write the interchange")
    exporting.add_argument(
        "--pubkey",
        action="append",
        type=_pubkey,
        metavar="0xPUBKEY",
        help="export this validator only (repeatable; default: every validator)",
    )
    _add_database(exporting)
    exporting.set_defaults(run=run_guarded(_export))
    pruning = command_parser(
        sub,
        "prune",
        help="delete records older than the last N epochs of each validator (its watermarks stay)",
        description="Delete each validator's records older than its newest minus --keep-epochs; the"
        " low watermarks rise over what is deleted, so nothing refused before is allowed after."
        " `nitro-wallet up` also prunes on its own, hourly.",
    )
    pruning.add_argument(
        "--keep-epochs",
        type=int,
        default=DEFAULT_KEEP_EPOCHS,
        metavar="N",
        help="epochs of records to keep per validator (default: %(default)s)",
    )
    _add_database(pruning)
    pruning.set_defaults(run=run_guarded(_prune))
    _register_high_watermark(sub)


def _register_high_watermark(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command_parser(
        sub,
        "high-watermark",
        help="set, remove or show the high watermark: nothing is signed at or above it",
        description="The database's high watermark (Web3Signer's): every signer sharing the database"
        " refuses blocks at or above its slot and attestations with a source or target at or above its"
        " epoch. Set it on a cluster whose validators move to another.",
    )
    commands = group.add_subparsers(dest="high_watermark_command", required=True, metavar="COMMAND")
    setting = command_parser(
        commands,
        "set",
        help="set (or replace) the high watermark",
        description="Set the high watermark; both --epoch and --slot are required.",
    )
    setting.add_argument("--epoch", type=int, required=True, metavar="E", help="refuse votes at or above")
    setting.add_argument("--slot", type=int, required=True, metavar="S", help="refuse blocks at or above")
    _add_database(setting)
    setting.set_defaults(run=run_guarded(_set_high_watermark))
    removing = command_parser(
        commands, "remove", help="clear the high watermark", description="Clear the high watermark."
    )
    _add_database(removing)
    removing.set_defaults(run=run_guarded(_remove_high_watermark))
    showing = command_parser(
        commands, "show", help="print the high watermark", description="Print the high watermark, or {}."
    )
    _add_database(showing)
    showing.set_defaults(run=run_guarded(_show_high_watermark))


def _add_database(parser: argparse.ArgumentParser) -> None:
    options.add_state_dir(parser)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"require the PostgreSQL database named by ${VALIDATOR_DB_ENV} (used whenever it is set)"
        f" rather than STATE_DIR/{VALIDATOR_DB_FILE}",
    )


def _pubkey(text: str) -> bytes:
    digits = text.removeprefix("0x")
    try:
        pubkey = bytes.fromhex(digits)
    except ValueError:
        pubkey = b""
    if len(pubkey) != PUBKEY_BYTES or not text.startswith("0x"):
        raise argparse.ArgumentTypeError(f"a pubkey is 0x and {2 * PUBKEY_BYTES} hex digits")
    return pubkey


def _import(args: argparse.Namespace) -> object:
    text = read_text(args.file, MAX_INTERCHANGE_BYTES, "interchange")
    with _store(args) as store:
        imported = import_interchange(store, text)
    return {
        "imported_validators": len({validator.pubkey for validator in imported.validators}),
        "genesis_validators_root": "0x" + imported.genesis_validators_root.hex(),
    }


def _export(args: argparse.Namespace) -> object:
    with _store(args) as store:
        document = export_interchange(store, args.pubkey)
    path: Path = args.file
    try:
        path.write_text(document + "\n", encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    return {"file": str(path), "bytes": path.stat().st_size}


def _prune(args: argparse.Namespace) -> object:
    with _store(args) as store:
        pruned = store.prune(args.keep_epochs)
    return {"deleted_blocks": pruned.blocks, "deleted_attestations": pruned.attestations}


def _set_high_watermark(args: argparse.Namespace) -> object:
    high = HighWatermark(epoch=args.epoch, slot=args.slot)
    with _store(args) as store:
        store.set_high_watermark(high)
        return _high_watermark_json(store.high_watermark())


def _remove_high_watermark(args: argparse.Namespace) -> object:
    with _store(args) as store:
        return {"removed": store.remove_high_watermark()}


def _show_high_watermark(args: argparse.Namespace) -> object:
    with _store(args) as store:
        return _high_watermark_json(store.high_watermark())


def _high_watermark_json(high: HighWatermark | None) -> dict[str, str]:
    """As GET /api/v1/eth2/highWatermark answers."""
    return {} if high is None else {"epoch": str(high.epoch), "slot": str(high.slot)}


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[SlashingStore]:
    """The database named by the options, open for one command."""
    try:
        store = _open(args)
    except (OSError, sqlite3.Error, SchemaTooNew) as exc:
        raise CommandFailed(f"cannot open the slashing-protection database: {exc}") from None
    try:
        yield store
    finally:
        store.close()


def _open(args: argparse.Namespace) -> SlashingStore:
    conninfo = os.environ.get(VALIDATOR_DB_ENV)
    if args.postgres and not conninfo:
        raise CommandFailed(f"--postgres needs ${VALIDATOR_DB_ENV} (a libpq conninfo) in the environment")
    state_dir = options.state_dir(args)
    if not conninfo and not state_dir.is_dir():
        raise CommandFailed(f"no state directory {state_dir}: pass --state-dir DIR, or --postgres")
    return open_validator_db(state_dir, conninfo)

"""`nitro-wallet validators import DIR`: bulk import of EIP-2335 keystores through the running stack's
Keymanager API (POST /eth/v1/keystores, docs/api.md), as staking-deposit-cli writes them: DIR/keystore-*.json,
all under one password.

Sealed by default: each keystore and the password are HPKE-sealed to the transport key of the enclave that
opens validators.import, taken from an attestation document this command verified (--root, --expect-pcr,
as `keys import`; the document is asked for with the wallet API's credentials, as the other commands do),
and sent as `sealed_keystores`, which the host relays but cannot open. --no-seal sends them as the spec
does, `keystores` and `passwords` in the clear: the host then sees the password and could decrypt the keys.

The password comes from --password-file or a prompt, never the command line, and is read once. The token
is the one `nitro-wallet up` wrote to STATE_DIR/keymanager-token (or --token-file). Keystores go
BATCH_KEYSTORES to a request, so the progress bar on stderr moves as the enclave runs their KDFs; an
EIP-3076 file given with --slashing-protection goes with the first batch, so it is in the database before
any key can sign.

The answer is a summary on stdout (imported, duplicate and error counts, and each error with its file);
the exit status is 1 if any keystore was not imported (a duplicate is not an error).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from nitro_wallet.cli import options
from nitro_wallet.cli.api_options import (
    CommandFailed,
    api_options,
    command_parser,
    open_client,
    read_secret_file,
    read_text,
    refuse_on_command_line,
    run_guarded,
    sealing_options,
)
from nitro_wallet.client.connection import Connection, json_body
from nitro_wallet.client.errors import UnexpectedResponse
from nitro_wallet.client.validator_import import METHOD, seal_keystore
from nitro_wallet.host import keymanager_token
from nitro_wallet.host.slashing.interchange import MAX_INTERCHANGE_BYTES
from nitro_wallet.wire.eth2 import MAX_KEYSTORE_CHARS

KEYSTORES_PATH = "/eth/v1/keystores"
KEYSTORE_GLOB = "keystore-*.json"
BATCH_KEYSTORES = 16  # per request: a few seconds of scrypt in the enclave, so the bar keeps moving
IMPORT_TIMEOUT_SECONDS = 300.0  # one batch of the slowest keystores the enclave accepts, with room
PROGRESS_WIDTH = 30
STATUSES = ("imported", "duplicate", "error")

Encode = Callable[[list[str]], dict[str, object]]  # a batch of keystores (JSON text) -> its request body


class BearerToken:
    """The Keymanager API's credential (client.connection.Auth)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"

    def headers_for(self, request: httpx.Request) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}


class Progress:
    """A plain-text bar: redrawn in place on a terminal, one line per step otherwise (a log file)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.in_place = stream.isatty()

    def show(self, done: int) -> None:
        filled = PROGRESS_WIDTH * done // max(self.total, 1)
        line = f"importing keystores [{'#' * filled}{'.' * (PROGRESS_WIDTH - filled)}] {done}/{self.total}"
        if self.in_place:
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("validators", help="manage Eth2 validator keys")
    sub = group.add_subparsers(dest="validators_command", required=True, metavar="COMMAND")
    importing = command_parser(
        sub,
        "import",
        help="import a directory of EIP-2335 keystores through the Keymanager API",
        description=f"Import DIR/{KEYSTORE_GLOB} (one password for all) into the running stack, sealed to "
        "the attested enclave unless --no-seal.",
        parents=[api_options()],
    )
    importing.add_argument(
        "directory", metavar="DIR", type=Path, help=f"the directory holding {KEYSTORE_GLOB}"
    )
    importing.add_argument(
        "--password-file",
        type=Path,
        metavar="PATH",
        help="read the keystores' password from PATH (default: prompt for it)",
    )
    refuse_on_command_line(importing, "--password", "use --password-file PATH or answer the prompt")
    importing.add_argument(
        "--slashing-protection",
        type=Path,
        metavar="FILE",
        help="an EIP-3076 interchange file to import before the keys",
    )
    importing.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help=f"the Keymanager API token (default: STATE_DIR/{keymanager_token.TOKEN_FILE})",
    )
    sealing_options(
        importing,
        clear_help="send the keystores and the password to the host in the clear, as the Keymanager spec "
        "does (the host could then decrypt the keys); by default they are sealed to the enclave's attested "
        "transport key, which the host cannot open",
    )
    importing.set_defaults(run=run_guarded(_import))


def _import(args: argparse.Namespace) -> object:
    files = keystore_files(args.directory)
    token = _token(args)
    password = _password(args)
    slashing = None
    if args.slashing_protection is not None:
        slashing = read_text(args.slashing_protection, MAX_INTERCHANGE_BYTES, "--slashing-protection")
    encode = _sealed_bodies(args, password) if args.sealed else clear_bodies(password)
    connection = Connection(args.url, auth=BearerToken(token), timeout=IMPORT_TIMEOUT_SECONDS)
    try:
        summary = import_files(connection, files, encode, slashing, Progress(len(files), sys.stderr))
    finally:
        connection.close()
    failed = summary["error"]
    if failed:
        print(json.dumps(summary, indent=2))
        raise CommandFailed(f"{failed} of {len(files)} keystores were not imported (see errors above)")
    return summary


def _sealed_bodies(args: argparse.Namespace, password: str) -> Encode:
    """Bodies sealed to the transport key of the enclave that opens validators.import, from a document
    verified here once for the whole run."""
    with open_client(args, sealing=True) as wallet:
        transport_key = wallet.sealing_key(METHOD)
    return sealed_bodies(transport_key, password)


def sealed_bodies(transport_key: bytes, password: str) -> Encode:
    return lambda keystores: {
        "sealed_keystores": [seal_keystore(transport_key, keystore, password) for keystore in keystores]
    }


def clear_bodies(password: str) -> Encode:
    return lambda keystores: {"keystores": keystores, "passwords": [password] * len(keystores)}


def keystore_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise CommandFailed(f"{directory} is not a directory")
    files = sorted(directory.glob(KEYSTORE_GLOB))
    if not files:
        raise CommandFailed(f"no {KEYSTORE_GLOB} in {directory}")
    return files


def import_files(
    connection: Connection, files: Sequence[Path], encode: Encode, slashing: str | None, progress: Progress
) -> dict[str, Any]:
    """POST the keystores batch by batch; the counts of each status and every error with its file."""
    counts = dict.fromkeys(STATUSES, 0)
    failures: list[dict[str, str]] = []
    progress.show(0)
    for start in range(0, len(files), BATCH_KEYSTORES):
        batch: list[tuple[Path, str]] = []
        for path in files[start : start + BATCH_KEYSTORES]:
            try:
                batch.append((path, read_text(path, MAX_KEYSTORE_CHARS, "keystore")))
            except CommandFailed as exc:
                counts["error"] += 1
                failures.append({"file": path.name, "message": str(exc)})
        if not batch and (slashing is None or start > 0):
            continue
        body = encode([keystore for _, keystore in batch])
        if slashing is not None and start == 0:
            body["slashing_protection"] = slashing
        for (path, _), status in zip(batch, _statuses(connection, body, len(batch)), strict=True):
            counts[status["status"]] += 1
            if status["status"] == "error":
                failures.append({"file": path.name, "message": str(status.get("message", ""))})
        progress.show(min(start + BATCH_KEYSTORES, len(files)))
    return {"keystores": len(files), **counts, "errors": failures}


def _statuses(connection: Connection, body: dict[str, object], expected: int) -> list[dict[str, Any]]:
    answer = connection.json("POST", KEYSTORES_PATH, body=json_body(body))
    data = answer.get("data") if isinstance(answer, dict) else None
    if not (
        isinstance(data, list)
        and len(data) == expected
        and all(isinstance(item, dict) and item.get("status") in STATUSES for item in data)
    ):
        raise UnexpectedResponse(f"POST {KEYSTORES_PATH} answered without one status per keystore")
    return data


def _token(args: argparse.Namespace) -> str:
    path: Path = args.token_file or keymanager_token.token_path(options.state_dir(args))
    try:
        return keymanager_token.read(path)
    except OSError as exc:
        raise CommandFailed(
            f"cannot read the Keymanager token {path}: {exc.strerror or type(exc).__name__} "
            "(`nitro-wallet up` writes it; or pass --token-file)"
        ) from None


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        return read_secret_file(args.password_file, "--password-file")
    if not sys.stdin.isatty():
        raise CommandFailed("no password: pass --password-file PATH (stdin is not a terminal to prompt on)")
    return getpass.getpass("keystore password: ")

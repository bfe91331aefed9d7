"""What every command that talks to the host's HTTP API shares: its options (URL, credentials, the key's
secret), how it opens a client, reads secrets and files, and reports its answer.

A command's answer is JSON on stdout; a failure is one `error: ...` line on stderr and exit status 1.
Secrets are never taken from the command line: options that would carry one are refused by name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nitro_wallet.attestation import roots
from nitro_wallet.cli import options
from nitro_wallet.client import (
    ApiKeyAuth,
    ClientError,
    SigV4Auth,
    WalletApiError,
    WalletClient,
    WalletUnreachable,
)
from nitro_wallet.wire.errors import AttestationError, NitroWalletError

DEFAULT_URL = "http://127.0.0.1:8080"
SECRET_ENV = "NITRO_WALLET_SECRET"  # noqa: S105 (the variable's name)
MAX_SECRET_FILE_BYTES = 4096  # secrets are at most 256 characters; room for a trailing newline and more
SECRET_HELP = (
    f"The key's secret comes from the environment variable {SECRET_ENV} or from --secret-file, never "
    "from the command line: other users on this machine can read a process's arguments (ps)."
)

Command = Callable[[argparse.Namespace], object]


class CommandFailed(Exception):
    """A problem to report as one `error: ...` line (exit status 1)."""


class _RefusedOnCommandLine(argparse.Action):
    """A hidden option that names the safe way instead, without echoing the value it was given."""

    def __init__(self, option_strings: list[str], dest: str, *, instead: str, **_: object) -> None:
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.instead = instead

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            f"{option_string} is refused: other users can read a process's arguments (ps); {self.instead}"
        )


# --- options ----------------------------------------------------------------------------------------------


def api_options() -> argparse.ArgumentParser:
    """A parent parser with the options every API command takes."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", default=DEFAULT_URL, help="the host API (default: %(default)s)")
    options.add_state_dir(parent)
    parent.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="authenticate with the API key in environment variable NAME (default: SigV4 with the "
        "default profile of STATE_DIR/credentials, region from STATE_DIR/config)",
    )
    return parent


def secret_options() -> argparse.ArgumentParser:
    """A parent parser for commands that need a wallet key's secret."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--secret-file", type=Path, metavar="PATH", help=f"read the key's secret from PATH. {SECRET_HELP}"
    )
    refuse_on_command_line(parent, "--secret", f"set {SECRET_ENV} or use --secret-file PATH")
    return parent


def refuse_on_command_line(parser: argparse.ArgumentParser, option: str, instead: str) -> None:
    """Make `option VALUE` an error that says what to do instead (and does not repeat VALUE)."""
    parser.add_argument(option, action=_RefusedOnCommandLine, instead=instead)


def command_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A sub-command parser without option abbreviations, so `--secret` never means `--secret-file`."""
    return sub.add_parser(name, allow_abbrev=False, **kwargs)


# --- running a command ------------------------------------------------------------------------------------


def run_guarded(command: Command) -> Callable[[argparse.Namespace], int]:
    """`command` run with its answer printed as JSON and every failure reported as one line."""

    def run(args: argparse.Namespace) -> int:
        try:
            result = command(args)
        except (CommandFailed, ClientError, NitroWalletError) as exc:
            print(f"error: {_describe(exc, args)}", file=sys.stderr)
            return options.EXIT_FAILED
        print(json.dumps(result, indent=2))
        return options.EXIT_OK

    return run


def _describe(exc: Exception, args: argparse.Namespace) -> str:
    if isinstance(exc, WalletUnreachable) and not exc.connected:
        return f"no nitro-wallet API at {args.url} (is `nitro-wallet up` running?)"
    if isinstance(exc, WalletApiError | WalletUnreachable | CommandFailed):
        return str(exc)
    if isinstance(exc, AttestationError):
        return f"the enclave's attestation does not verify: {exc.message}"
    if isinstance(exc, NitroWalletError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def sealing_options(command: argparse.ArgumentParser, *, clear_help: str) -> None:
    """--no-seal (`clear_help` says what goes to the host then) and what the enclave's attestation must match
    before anything is sealed to it (--root, --expect-pcr): what `open_client(..., sealing=True)` reads."""
    command.add_argument("--no-seal", dest="sealed", action="store_false", help=clear_help)
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
        type=options.pcr_expectation,
        metavar="N=HEX",
        help="require the enclave's PCR N to equal HEX before sealing (repeatable)",
    )


def open_client(args: argparse.Namespace, *, sealing: bool = False) -> WalletClient:
    """A client for --url with the chosen credentials; `sealing` loads the attestation root too."""
    state_dir = options.state_dir(args)
    auth: SigV4Auth | ApiKeyAuth
    if args.api_key_env is not None:
        auth = ApiKeyAuth(read_environment(args.api_key_env))
    else:
        try:
            auth = SigV4Auth.from_state_dir(state_dir)
        except NitroWalletError as exc:
            raise CommandFailed(f"{exc.message} (start `nitro-wallet up`, or use --api-key-env)") from None
    if not sealing:
        return WalletClient(args.url, auth=auth)
    try:
        root = roots.load_root(args.root, state_dir=state_dir)
    except (ValueError, OSError) as exc:
        raise CommandFailed(f"--root {args.root}: {exc}") from None
    return WalletClient(args.url, auth=auth, verify_roots=root, expected_pcrs=dict(args.expect_pcr))


# --- reading secrets and files ----------------------------------------------------------------------------


def read_secret(args: argparse.Namespace) -> str:
    """The wallet key's secret, from --secret-file or the environment."""
    if args.secret_file is not None:
        return read_secret_file(args.secret_file, "--secret-file")
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise CommandFailed(f"no secret: set {SECRET_ENV} or pass --secret-file PATH")
    return secret


def read_secret_file(path: Path, what: str) -> str:
    """A one-line secret file, without its line end (editors add one)."""
    text = read_text(path, MAX_SECRET_FILE_BYTES, what)
    return text.removesuffix("\n").removesuffix("\r")


def read_environment(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CommandFailed(f"environment variable {name} is not set")
    return value


def read_text(path: Path | str, limit: int, what: str) -> str:
    """A UTF-8 text file (or stdin for '-') of at most `limit` bytes."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(limit + 1)
    except OSError as exc:
        raise CommandFailed(f"{what}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > limit:
        raise CommandFailed(f"{what}: {path} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandFailed(f"{what}: {path} is not UTF-8 text") from None

"""`nitro-wallet keys create|import|list|get|disable|enable|delete`: wallet keys through the host's API.

Each sub-command registers itself in `register()` through its own `_register_<name>()` function. The
options every API command shares (URL, credentials, the key's secret) and the way they report errors are
defined here and used by `nitro-wallet sign` as well. Output is JSON on stdout; an error is one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
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
KEYSTORE_PASSWORD_ENV = "NITRO_WALLET_KEYSTORE_PASSWORD"  # noqa: S105 (the variable's name)
MAX_SECRET_FILE_BYTES = 4096  # secrets are at most 256 characters; room for a trailing newline and more
MAX_KEY_FILE_BYTES = 64 * 1024  # a keystore is ~1 KiB; a hex private key 66 bytes
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


# --- shared with `nitro-wallet sign` ----------------------------------------------------------------------


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


def open_client(args: argparse.Namespace, *, sealing: bool = False) -> WalletClient:
    """A client for --url with the chosen credentials; `sealing` loads the attestation root too."""
    state_dir = options.state_dir(args)
    auth: SigV4Auth | ApiKeyAuth
    if args.api_key_env is not None:
        auth = ApiKeyAuth(_environment(args.api_key_env))
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


def read_secret(args: argparse.Namespace) -> str:
    if args.secret_file is not None:
        return _strip_line_end(read_text(args.secret_file, MAX_SECRET_FILE_BYTES, "--secret-file"))
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise CommandFailed(f"no secret: set {SECRET_ENV} or pass --secret-file PATH")
    return secret


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


def _strip_line_end(text: str) -> str:
    return text.removesuffix("\n").removesuffix("\r")


def _environment(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CommandFailed(f"environment variable {name} is not set")
    return value


# --- the commands -----------------------------------------------------------------------------------------


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
            material["password"] = _strip_line_end(
                read_text(args.password_file, MAX_SECRET_FILE_BYTES, "--password-file")
            )
        else:
            material["password"] = _environment(KEYSTORE_PASSWORD_ENV)
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

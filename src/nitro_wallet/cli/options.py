"""Options and conventions shared by the command groups."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nitro_wallet.attestation import document

STATE_DIR_ENV = "NITRO_WALLET_STATE_DIR"
DEFAULT_STATE_DIR = Path("~/.local/state/nitro-wallet")

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and the answer is "no" (invalid document, refused request)
EXIT_USAGE = 2  # bad arguments (argparse uses 2 as well)


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV, str(DEFAULT_STATE_DIR))).expanduser()


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"state directory (default: ${STATE_DIR_ENV} or {DEFAULT_STATE_DIR})",
    )


def state_dir(args: argparse.Namespace) -> Path:
    chosen: Path | None = args.state_dir
    return (chosen or default_state_dir()).expanduser()


def pcr_expectation(text: str) -> tuple[int, bytes]:
    """An --expect-pcr value: N=HEX, N a PCR index and HEX a digest of a PCR's length."""
    index, sep, value = text.partition("=")
    try:
        number = int(index)
        digest = bytes.fromhex(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N=HEX, got {text!r}") from None
    if not sep or number not in document.PCR_INDEXES or len(digest) not in document.PCR_LENGTHS:
        raise argparse.ArgumentTypeError(
            f"expected N=HEX with N in 0..31 and 32, 48 or 64 bytes of hex, got {text!r}"
        )
    return number, digest

"""The Keymanager API's bearer token: DIR/keymanager-token, written once by `nitro-wallet up`, read by it and
by `nitro-wallet validators import`.

The file holds one line: 32 random bytes as 64 hex digits when `up` creates it, mode 0600. An operator may
replace it with a token of their own (printable ASCII without spaces, at most MAX_TOKEN_CHARS): validator
tooling such as Lighthouse's writes tokens of other shapes. The token is never printed or logged.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from nitro_wallet.wire.errors import BadRequest

TOKEN_FILE = "keymanager-token"  # noqa: S105 (a file name)
TOKEN_BYTES = 32
TOKEN_FILE_MODE = 0o600
MAX_TOKEN_CHARS = 256
_TOKEN = re.compile(rf"[!-~]{{1,{MAX_TOKEN_CHARS}}}")


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def load_or_create(state_dir: Path) -> str:
    """The token in STATE_DIR/keymanager-token, created (0600, a new random token) if there is none.

    The file appears whole or not at all: it is written under another name and linked into place, so a
    concurrent reader never sees it half written and two creators cannot both win."""
    path = token_path(state_dir)
    if not path.exists():
        staging = state_dir / f".{TOKEN_FILE}.{secrets.token_hex(8)}.tmp"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(secrets.token_hex(TOKEN_BYTES) + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another `up` won the race: its token stands
                os.link(staging, path)
        finally:
            staging.unlink()
    return read(path)


def read(path: Path) -> str:
    """The token in `path` (without its line end); OSError if it cannot be read, BadRequest if it is not a
    token (the message never quotes the file)."""
    with path.open("rb") as file:
        data = file.read(MAX_TOKEN_CHARS + 3)
    token = data.removesuffix(b"\n").removesuffix(b"\r").decode("ascii", errors="replace")
    if not _TOKEN.fullmatch(token):
        raise BadRequest(
            f"{path} must hold one token: 1..{MAX_TOKEN_CHARS} printable ASCII characters, no spaces",
            field="keymanager_token",
        )
    return token

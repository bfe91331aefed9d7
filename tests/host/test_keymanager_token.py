"""STATE_DIR/keymanager-token: created once (0600, 32 random bytes as hex), then read back unchanged; an
operator's own token is accepted within MAX_TOKEN_CHARS; anything else is refused without quoting it."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from nitro_wallet.host.keymanager_token import MAX_TOKEN_CHARS, TOKEN_FILE, load_or_create, read, token_path
from nitro_wallet.wire.errors import BadRequest


def test_it_is_created_once_private_and_random(tmp_path: Path) -> None:
    token = load_or_create(tmp_path)
    assert re.fullmatch("[0-9a-f]{64}", token)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == token + "\n"
    assert load_or_create(tmp_path) == token
    assert [entry.name for entry in tmp_path.iterdir()] == [TOKEN_FILE]  # no staging file left
    other = tmp_path / "other"
    other.mkdir()
    assert load_or_create(other) != token


def test_an_operators_own_token_is_kept(tmp_path: Path) -> None:
    token_path(tmp_path).write_text("api-token-0x" + "7" * 64 + "\r\n")
    assert load_or_create(tmp_path) == "api-token-0x" + "7" * 64


@pytest.mark.parametrize("length", [MAX_TOKEN_CHARS, MAX_TOKEN_CHARS + 1])
def test_a_token_is_at_most_max_token_chars(tmp_path: Path, length: int) -> None:
    path = token_path(tmp_path)
    path.write_text("t" * length + "\n")
    if length <= MAX_TOKEN_CHARS:
        assert read(path) == "t" * length
    else:
        with pytest.raises(BadRequest):
            read(path)


@pytest.mark.parametrize("content", ["", "\n", "two words\n", "caf\u00e9\n", "secret\nmore\n"])
def test_a_file_that_holds_no_token_is_refused_without_quoting_it(tmp_path: Path, content: str) -> None:
    path = token_path(tmp_path)
    path.write_text(content)
    with pytest.raises(BadRequest) as refused:
        read(path)
    assert content.strip() == "" or content.strip() not in refused.value.message

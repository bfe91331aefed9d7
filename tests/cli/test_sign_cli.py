"""`nitro-wallet sign ...` without a stack: the kinds, where the payload comes from, early failures."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from nitro_wallet.cli.api_options import SECRET_ENV
from nitro_wallet.cli.main import build_parser, main
from nitro_wallet.cli.sign import COMMANDS
from nitro_wallet.client import SIGN_KINDS

SECRET = "a-user-secret-that-is-long-enough-0123456789"


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("tx", "transaction"),
        ("userop", "user-operation"),
        ("userop-hash", "user-operation-hash"),
        ("message", "message"),
        ("typed-data", "typed-data"),
        ("authorization", "authorization"),
    ],
)
def test_each_command_signs_its_kind(command: str, kind: str) -> None:
    args = build_parser().parse_args(["sign", command, "KEY", "payload.json"])
    assert (args.kind, args.key_id, args.payload) == (kind, "KEY", "payload.json")
    assert kind in SIGN_KINDS


def test_raw_digests_are_not_offered_on_the_command_line() -> None:
    assert "unsafe-digest" not in {kind for kind, _ in COMMANDS.values()}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sign", "unsafe-digest", "KEY", "payload.json"])


def test_a_missing_payload_file(state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = state_dir / "missing.json"
    assert main(["sign", "tx", "KEY", str(missing), "--state-dir", str(state_dir), "--url", silent_url]) == 1
    assert error_line(capsys) == f"error: PAYLOAD_FILE: cannot read {missing}: No such file or directory"


def test_a_payload_that_is_not_json_is_refused_before_sending(
    state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = state_dir / "tx.json"
    payload.write_text('{"type": 2,')
    assert main(["sign", "tx", "KEY", str(payload), "--state-dir", str(state_dir), "--url", silent_url]) == 1
    line = error_line(capsys)
    assert line.startswith("error: payload is not valid JSON")
    assert SECRET not in line


def test_the_payload_can_come_from_stdin(
    monkeypatch: pytest.MonkeyPatch, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"message": "hi", "encoding": "utf8"}'))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["sign", "message", "KEY", "-", "--state-dir", str(state_dir), "--url", silent_url]) == 1
    assert "no nitro-wallet API" in error_line(capsys)  # read, authenticated, then sent


def test_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    payload = state_dir / "m.json"
    payload.write_text('{"message": "hi"}')
    assert (
        main(["sign", "message", "KEY", str(payload), "--state-dir", str(state_dir), "--url", silent_url])
        == 1
    )
    assert error_line(capsys) == f"error: no secret: set {SECRET_ENV} or pass --secret-file PATH"

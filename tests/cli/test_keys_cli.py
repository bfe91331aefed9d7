"""`nitro-wallet keys ...` without a stack: arguments, where secrets may come from, how failures read."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from nitro_wallet.cli.api_options import MAX_SECRET_FILE_BYTES, SECRET_ENV, CommandFailed, read_secret
from nitro_wallet.cli.main import build_parser, main

SECRET = "a-user-secret-that-is-long-enough-0123456789"
SECRET_BEARING = ("secret", "private", "password", "api-key")


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for deeper, parser_below in subcommands(sub):
                    yield f"{name} {deeper}", parser_below


@pytest.mark.parametrize("group", ["keys", "sign"])
def test_no_option_takes_a_secret_as_its_value(group: str) -> None:
    """Options that carry secrets name a file or an environment variable; the rest are refusals."""
    for name, sub in subcommands(build_parser()):
        if not name.startswith(group):
            continue
        for action in sub._actions:
            for option in action.option_strings:
                if any(word in option for word in SECRET_BEARING) and action.nargs != 0:
                    refused = action.help == argparse.SUPPRESS
                    assert option.endswith(("-file", "-env")) or refused, (name, option)


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "create", "--secret", SECRET],
        ["keys", "create", f"--secret={SECRET}"],
        ["keys", "import", "--secret", SECRET],
        ["sign", "tx", "--secret", SECRET, "key", "tx.json"],
    ],
)
def test_a_secret_on_the_command_line_is_refused_without_repeating_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "--secret is refused" in err
    assert SECRET_ENV in err


@pytest.mark.parametrize(
    ("option", "instead"), [("--private-key", "--private-key-file"), ("--password", "--password-file")]
)
def test_key_material_on_the_command_line_is_refused(
    option: str, instead: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "import", option, "deadbeef" * 8])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "deadbeef" not in err
    assert instead in err


def test_options_are_not_abbreviated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "create", "--secret-fi", "path"])
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["keys", "create", "--help"], ["keys", "import", "--help"], ["sign", "tx", "--help"]]
)
def test_help_says_where_the_secret_comes_from(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    help_text = " ".join(capsys.readouterr().out.split())
    assert SECRET_ENV in help_text
    assert "--secret-file" in help_text
    assert "(ps)" in help_text


def test_without_a_secret_create_says_where_to_put_it(
    state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--state-dir", str(state_dir), "--url", silent_url]) == 1
    assert one_error_line(capsys) == f"error: no secret: set {SECRET_ENV} or pass --secret-file PATH"


def test_nothing_listening_is_one_clear_line(
    state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list", "--state-dir", str(state_dir), "--url", silent_url]) == 1
    assert (
        one_error_line(capsys)
        == f"error: no nitro-wallet API at {silent_url} (is `nitro-wallet up` running?)"
    )


def test_a_state_dir_without_credentials(
    tmp_path: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "get", "k", "--state-dir", str(tmp_path), "--url", silent_url]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"error: cannot read {tmp_path / 'credentials'}: No such file")
    assert line.endswith("(start `nitro-wallet up`, or use --api-key-env)")


def test_an_unset_api_key_variable(
    state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["keys", "list", "--api-key-env", "NW_TEST_NO_SUCH_VARIABLE", "--url", silent_url]
    assert main(argv) == 1
    assert one_error_line(capsys) == "error: environment variable NW_TEST_NO_SUCH_VARIABLE is not set"


def test_an_api_key_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NW_TEST_API_KEY", "nwk_0123456789abcdef_" + "ab" * 32)
    assert main(["keys", "list", "--api-key-env", "NW_TEST_API_KEY", "--url", silent_url]) == 1
    assert "no nitro-wallet API" in one_error_line(capsys)  # got as far as connecting


def test_a_missing_root_for_sealing(
    monkeypatch: pytest.MonkeyPatch, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(["keys", "create", "--state-dir", str(state_dir), "--url", silent_url]) == 1
    assert one_error_line(capsys).startswith("error: --root dev: no development CA in")


def test_a_tag_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "create", "--tag", "=v"])
    assert "expected NAME=VALUE" in capsys.readouterr().err


# --- the secret file ------------------------------------------------------------------------------------


def secret_args(path: Path | None) -> argparse.Namespace:
    return argparse.Namespace(secret_file=path)


@pytest.mark.parametrize(
    ("written", "read"),
    [(SECRET + "\n", SECRET), (SECRET + "\r\n", SECRET), (SECRET, SECRET), (f" {SECRET} \n", f" {SECRET} ")],
)
def test_a_secret_file_loses_only_its_line_end(tmp_path: Path, written: str, read: str) -> None:
    path = tmp_path / "secret"
    path.write_text(written, newline="")
    assert read_secret(secret_args(path)) == read


def test_the_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    path = tmp_path / "secret"
    path.write_text(SECRET)
    assert read_secret(secret_args(path)) == SECRET
    assert read_secret(secret_args(None)) == "from-the-environment"


@pytest.mark.parametrize(
    ("size", "accepted"), [(MAX_SECRET_FILE_BYTES, True), (MAX_SECRET_FILE_BYTES + 1, False)]
)
def test_secret_files_are_bounded(tmp_path: Path, size: int, accepted: bool) -> None:
    path = tmp_path / "secret"
    path.write_text("s" * size)
    if accepted:
        assert len(read_secret(secret_args(path))) == size
    else:
        with pytest.raises(CommandFailed, match="larger than"):
            read_secret(secret_args(path))


def test_a_secret_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CommandFailed, match="not UTF-8"):
        read_secret(secret_args(path))

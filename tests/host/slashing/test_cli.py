"""`nitro-wallet slashing import|export|prune|high-watermark` on a state directory's SQLite database and on
PostgreSQL: what is imported is exported again, the high watermark is set, shown and removed, bad files and
options are one clear line, and a conninfo is only ever read from the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.host.slashing import UnsafeToSign, Verdict
from nitro_wallet.host.slashing.validator_db import VALIDATOR_DB_ENV, VALIDATOR_DB_FILE, open_validator_db
from support.postgres import PostgresServer

GVR = "0x" + "01" * 32
ALICE = "0x" + "a1" * 48
BOB = "0x" + "b0" * 48
INTERCHANGE = {
    "metadata": {"interchange_format_version": "5", "genesis_validators_root": GVR},
    "data": [
        {"pubkey": ALICE, "signed_blocks": [{"slot": "7"}], "signed_attestations": []},
        {
            "pubkey": BOB,
            "signed_blocks": [],
            "signed_attestations": [{"source_epoch": "2", "target_epoch": "3"}],
        },
    ],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if status == 0 else None, captured.err


def test_an_imported_file_is_exported_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "in.json", tmp_path / "out.json"
    source.write_text(json.dumps(INTERCHANGE))
    status, answer, _ = run(capsys, "slashing", "import", str(source), "--state-dir", str(tmp_path))
    assert status == 0
    assert answer == {"imported_validators": 2, "genesis_validators_root": GVR}
    assert (tmp_path / VALIDATOR_DB_FILE).is_file()
    status, answer, _ = run(capsys, "slashing", "export", str(target), "--state-dir", str(tmp_path))
    assert status == 0
    assert answer["file"] == str(target)
    assert json.loads(target.read_text()) == INTERCHANGE


def test_an_export_can_name_validators(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "in.json", tmp_path / "out.json"
    source.write_text(json.dumps(INTERCHANGE))
    run(capsys, "slashing", "import", str(source), "--state-dir", str(tmp_path))
    status, _, _ = run(
        capsys, "slashing", "export", str(target), "--state-dir", str(tmp_path), "--pubkey", BOB
    )
    assert status == 0
    assert [entry["pubkey"] for entry in json.loads(target.read_text())["data"]] == [BOB]


def test_postgres_is_named_by_the_environment(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    postgres: PostgresServer,
) -> None:
    conninfo = postgres.new_database()
    try:
        monkeypatch.setenv(VALIDATOR_DB_ENV, conninfo)
        source, target = tmp_path / "in.json", tmp_path / "out.json"
        source.write_text(json.dumps(INTERCHANGE))
        assert run(capsys, "slashing", "import", str(source), "--postgres")[0] == 0
        assert run(capsys, "slashing", "export", str(target), "--postgres")[0] == 0
        assert json.loads(target.read_text()) == INTERCHANGE
        assert not (tmp_path / VALIDATOR_DB_FILE).exists()
    finally:
        postgres.drop_database(conninfo)


def test_the_environment_variable_alone_selects_postgres_as_up_does(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    postgres: PostgresServer,
) -> None:
    conninfo = postgres.new_database()
    try:
        monkeypatch.setenv(VALIDATOR_DB_ENV, conninfo)
        source = tmp_path / "in.json"
        source.write_text(json.dumps(INTERCHANGE))
        assert run(capsys, "slashing", "import", str(source), "--state-dir", str(tmp_path))[0] == 0
        assert not (tmp_path / VALIDATOR_DB_FILE).exists()
        assert run(capsys, "slashing", "export", str(tmp_path / "out.json"), "--postgres")[0] == 0
        assert json.loads((tmp_path / "out.json").read_text()) == INTERCHANGE
    finally:
        postgres.drop_database(conninfo)


def test_postgres_without_its_environment_variable_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VALIDATOR_DB_ENV, raising=False)
    status, _, err = run(capsys, "slashing", "export", str(tmp_path / "out.json"), "--postgres")
    assert status == 1
    assert err == f"error: --postgres needs ${VALIDATOR_DB_ENV} (a libpq conninfo) in the environment\n"


def test_a_bad_file_is_refused_by_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.json"
    bad = json.loads(json.dumps(INTERCHANGE))
    bad["data"][1]["signed_attestations"][0]["target_epoch"] = 3
    source.write_text(json.dumps(bad))
    status, _, err = run(capsys, "slashing", "import", str(source), "--state-dir", str(tmp_path))
    assert status == 1
    assert err.startswith("error: data[1].signed_attestations[0].target_epoch must be a decimal string")


def test_nothing_to_export_from_an_empty_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(
        capsys, "slashing", "export", str(tmp_path / "out.json"), "--state-dir", str(tmp_path)
    )
    assert status == 1
    assert "nothing to export" in err
    assert not (tmp_path / "out.json").exists()


def test_a_missing_state_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    status, _, err = run(capsys, "slashing", "export", str(tmp_path / "o.json"), "--state-dir", str(missing))
    assert status == 1
    assert err == f"error: no state directory {missing}: pass --state-dir DIR, or --postgres\n"


@pytest.mark.parametrize("pubkey", [ALICE[2:], ALICE[:-2], ALICE + "00", "0x" + "zz" * 48])
def test_a_bad_pubkey_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pubkey: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["slashing", "export", str(tmp_path / "o.json"), "--pubkey", pubkey])
    assert caught.value.code == 2
    assert "a pubkey is 0x and 96 hex digits" in capsys.readouterr().err


def test_prune_keeps_the_last_epochs_and_the_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_validator_db(tmp_path, None)
    bob = bytes.fromhex(BOB[2:])
    for target in (1, 2, 10):
        store.check_and_record_attestation(bob, b"\x01" * 32, target - 1, target, bytes([target]) * 32)
    store.close()
    status, answer, _ = run(capsys, "slashing", "prune", "--keep-epochs", "3", "--state-dir", str(tmp_path))
    assert (status, answer) == (0, {"deleted_blocks": 0, "deleted_attestations": 2})
    target = tmp_path / "out.json"
    run(capsys, "slashing", "export", str(target), "--state-dir", str(tmp_path))
    votes = json.loads(target.read_text())["data"][0]["signed_attestations"]
    assert max(int(vote["target_epoch"]) for vote in votes) == 10  # the newest record and the marks stay
    status, _, err = run(capsys, "slashing", "prune", "--keep-epochs", "-1", "--state-dir", str(tmp_path))
    assert status != 0
    assert "keep" in err


def test_the_high_watermark_is_set_shown_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ("--state-dir", str(tmp_path))
    assert run(capsys, "slashing", "high-watermark", "show", *state)[:2] == (0, {})
    status, answer, _ = run(
        capsys, "slashing", "high-watermark", "set", "--epoch", "5", "--slot", "160", *state
    )
    assert (status, answer) == (0, {"epoch": "5", "slot": "160"})
    assert run(capsys, "slashing", "high-watermark", "show", *state)[:2] == (0, {"epoch": "5", "slot": "160"})
    store = open_validator_db(tmp_path, None)
    try:
        bob = bytes.fromhex(BOB[2:])
        with pytest.raises(UnsafeToSign):
            store.check_and_record_block(bob, b"\x01" * 32, 160, b"\x02" * 32)
        assert store.check_and_record_block(bob, b"\x01" * 32, 159, b"\x02" * 32) is Verdict.SIGN
    finally:
        store.close()
    assert run(capsys, "slashing", "high-watermark", "remove", *state)[:2] == (0, {"removed": True})
    assert run(capsys, "slashing", "high-watermark", "remove", *state)[:2] == (0, {"removed": False})
    assert run(capsys, "slashing", "high-watermark", "show", *state)[:2] == (0, {})


def test_the_high_watermark_on_postgres(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer
) -> None:
    conninfo = postgres.new_database()
    try:
        monkeypatch.setenv(VALIDATOR_DB_ENV, conninfo)
        argv = ("slashing", "high-watermark")
        assert run(capsys, *argv, "set", "--epoch", "1", "--slot", "2", "--postgres")[0] == 0
        assert run(capsys, *argv, "show", "--postgres")[:2] == (0, {"epoch": "1", "slot": "2"})
        assert run(capsys, *argv, "remove", "--postgres")[:2] == (0, {"removed": True})
        assert run(capsys, *argv, "show", "--postgres")[:2] == (0, {})
    finally:
        postgres.drop_database(conninfo)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--epoch", str(2**63), "--slot", "1"), "epoch must be an integer in 0..9223372036854775807"),
        (("--epoch", "1", "--slot", "-1"), "slot must be an integer in 0..9223372036854775807"),
    ],
)
def test_a_high_watermark_out_of_bounds_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    status, _, err = run(capsys, "slashing", "high-watermark", "set", *argv, "--state-dir", str(tmp_path))
    assert status == 1
    assert err == f"error: {message}\n"


@pytest.mark.parametrize("missing", ["--epoch", "--slot"])
def test_setting_needs_both_epoch_and_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    argv = {"--epoch": "1", "--slot": "2"}
    del argv[missing]
    with pytest.raises(SystemExit) as caught:
        main(["slashing", "high-watermark", "set", *argv.popitem(), "--state-dir", str(tmp_path)])
    assert caught.value.code == 2
    assert missing in capsys.readouterr().err

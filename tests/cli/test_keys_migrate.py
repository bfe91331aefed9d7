"""`nitro-wallet keys migrate FILE` without a stack: the reference table exports it reads, the files it
refuses before migrating anything, how failures read. Migrations themselves: tests/client/test_migration.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from nitro_wallet.cli.api_options import CommandFailed
from nitro_wallet.cli.keys import MAX_EXPORT_FILE_BYTES, ReferenceKey, reference_keys
from nitro_wallet.cli.main import main

KEY_ID = "0b8f6a4e-6a52-4c5e-9d59-0d6a8c3f51c2"
OTHER_ID = "4f0c5c0e-2f6a-4d0b-8f3e-7f2b1e9a6c11"
CIPHERTEXT = bytes(range(1, 200))
ADDRESS = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
ITEM = {"key_id": KEY_ID, "ciphertext": base64.b64encode(CIPHERTEXT).decode(), "address": ADDRESS}
TYPED = {name: {"S": value} for name, value in ITEM.items()}  # DynamoDB JSON
KEY = ReferenceKey(KEY_ID, CIPHERTEXT, ADDRESS)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([ITEM]),
        json.dumps(ITEM),
        json.dumps({"Items": [TYPED], "Count": 1, "ScannedCount": 1}),  # aws dynamodb scan
        json.dumps({"Item": TYPED}) + "\n",  # a DynamoDB export to S3: JSON Lines
        json.dumps([{**ITEM, "created": {"N": "1"}}]),  # other attributes are ignored
    ],
)
def test_the_exports_it_reads(text: str) -> None:
    assert reference_keys(text, "FILE") == [KEY]


def test_json_lines_and_an_item_without_an_address() -> None:
    other = {"key_id": OTHER_ID, "ciphertext": "AQID"}
    text = json.dumps({"Item": TYPED}) + "\n\n" + json.dumps(other) + "\n"
    assert reference_keys(text, "FILE") == [KEY, ReferenceKey(OTHER_ID, b"\x01\x02\x03", None)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "FILE holds no keys"),
        ("[]", "FILE holds no keys"),
        ('{"Items": {}}', "FILE: Items is not a JSON array"),
        (json.dumps(ITEM) + "\n{not json\n", "FILE: line 2 is not JSON"),
        ("[1]", "FILE: item 1 is not a JSON object"),
        (json.dumps([ITEM, {"ciphertext": "AQID"}]), "FILE: item 2 has no key_id"),
        (json.dumps([{"key_id": KEY_ID}]), "FILE: item 1 has no ciphertext"),
        (json.dumps([{**ITEM, "ciphertext": "not base64!"}]), "FILE: item 1: ciphertext is not base64"),
        (json.dumps([{**ITEM, "key_id": ""}]), "FILE: item 1: key_id must be non-empty text"),
        (json.dumps([{**ITEM, "address": {"N": "1"}}]), "FILE: item 1: address must be non-empty text"),
        (json.dumps([ITEM, ITEM]), f"FILE: key_id '{KEY_ID}' appears twice"),
    ],
)
def test_a_bad_export_is_refused_whole(text: str, message: str) -> None:
    with pytest.raises(CommandFailed) as refused:
        reference_keys(text, "FILE")
    assert str(refused.value) == message


def argv(path: Path, state_dir: Path, url: str) -> list[str]:
    return ["keys", "migrate", str(path), "--state-dir", str(state_dir), "--url", url]


def test_a_bad_file_is_one_error_line_and_nothing_is_sent(
    tmp_path: Path, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "table.json"
    table.write_text(json.dumps([ITEM, {"key_id": OTHER_ID}]))
    assert main(argv(table, state_dir, silent_url)) == 1
    assert one_error_line(capsys) == f"error: {table}: item 2 has no ciphertext"


def test_a_missing_file(
    tmp_path: Path, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv(tmp_path / "absent.json", state_dir, silent_url)) == 1
    assert one_error_line(capsys).startswith(f"error: FILE: cannot read {tmp_path / 'absent.json'}: ")


@pytest.mark.parametrize(
    ("size", "accepted"), [(MAX_EXPORT_FILE_BYTES, True), (MAX_EXPORT_FILE_BYTES + 1, False)]
)
def test_export_files_are_bounded(
    size: int, accepted: bool, state_dir: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps([ITEM])
    table = state_dir / "table.json"
    table.write_text(text + " " * (size - len(text)))
    assert main(argv(table, state_dir, silent_url)) == 1
    line = one_error_line(capsys)
    if accepted:  # read, checked, and sent to a host that is not there
        assert line == f"error: no nitro-wallet API at {silent_url} (is `nitro-wallet up` running?)"
    else:
        assert line == f"error: FILE: {table} is larger than {MAX_EXPORT_FILE_BYTES} bytes"


def test_migrate_takes_no_secret_and_does_not_seal(capsys: pytest.CaptureFixture[str]) -> None:
    """The secret travels inside the reference's ciphertext, which only the enclave can open."""
    with pytest.raises(SystemExit):
        main(["keys", "migrate", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--secret-file", "--no-seal", "--root", "--expect-pcr"):
        assert option not in help_text
    for option in ("--label", "--tag", "--policy-file", "--api-key-env"):
        assert option in help_text

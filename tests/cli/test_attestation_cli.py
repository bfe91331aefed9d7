"""`nitro-wallet attestation verify`, run as users run it."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nitro_wallet.cli.main import main
from support.documents import REAL_DOCUMENTS, emulated_document


def test_console_script_is_installed() -> None:
    script = shutil.which("nitro-wallet", path=str(Path(sys.executable).parent))
    assert script is not None
    done = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("nitro-wallet ")


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_real_documents_verify_at_document_time(
    vectors: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["attestation", "verify", str(vectors / "attestation" / name), "--at-document-time"])
    out = capsys.readouterr().out
    assert status == 0
    assert "verdict    VALID" in out
    assert "module_id  i-0" in out
    assert "PCR0 " in out


def test_json_output(vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = vectors / "attestation" / "prod_ap-southeast-1_2023-09-28.cbor"
    assert main(["attestation", "verify", str(path), "--at-document-time", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["timestamp"] == 1695899307117
    assert report["pcrs"]["0"].startswith("ca78fbe0b97bbfe1")
    assert report["public_key"] is None
    assert report["root"] == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"


def test_base64_input(vectors: Path, tmp_path: Path) -> None:
    raw = (vectors / "attestation" / REAL_DOCUMENTS[0]).read_bytes()
    encoded = tmp_path / "doc.b64"
    encoded.write_bytes(base64.encodebytes(raw))  # wrapped lines, as tools print it
    assert main(["attestation", "verify", str(encoded), "--at-document-time"]) == 0


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_refused_now_with_the_reason(vectors: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attestation", "verify", str(vectors / "attestation" / name)]) == 1
    assert "INVALID: certificate chain does not verify" in capsys.readouterr().err


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_refused_against_the_dev_root(
    vectors: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulated_document(tmp_path)  # creates the state directory's dev CA
    args = ["attestation", "verify", str(vectors / "attestation" / name), "--at-document-time"]
    assert main([*args, "--root", "dev", "--state-dir", str(tmp_path)]) == 1
    assert "INVALID" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_refused_after_a_flipped_byte(
    vectors: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray((vectors / "attestation" / REAL_DOCUMENTS[1]).read_bytes())
    offset = len(raw) - 10 if where == "signature" else len(raw) // 2
    raw[offset] ^= 0x01
    flipped = tmp_path / "flipped.cbor"
    flipped.write_bytes(bytes(raw))
    assert main(["attestation", "verify", str(flipped), "--at-document-time"]) == 1
    assert "INVALID" in capsys.readouterr().err


def test_emulated_document_against_the_dev_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "doc.cbor"
    path.write_bytes(emulated_document(tmp_path, pcr0=b"\x42" * 48))
    dev = ["--root", "dev", "--state-dir", str(tmp_path)]
    assert main(["attestation", "verify", str(path), *dev, "--expect-pcr", f"0={'42' * 48}"]) == 0
    assert main(["attestation", "verify", str(path), *dev, "--expect-pcr", f"0={'43' * 48}"]) == 1
    assert "PCR0 is 4242" in capsys.readouterr().err
    assert main(["attestation", "verify", str(path)]) == 1  # AWS root by default


def test_dev_root_without_a_dev_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["attestation", "verify", str(tmp_path / "x"), "--root", "dev", "--state-dir", str(tmp_path)]
    assert main(args) == 2
    assert "no development CA" in capsys.readouterr().err


def test_garbage_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(b"\x00\x01 not a document")
    assert main(["attestation", "verify", str(path)]) == 1
    assert "neither CBOR nor base64" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "x=00", f"32={'00' * 48}", "0=abcd"])
def test_bad_expect_pcr_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["attestation", "verify", str(tmp_path / "x"), "--expect-pcr", bad])
    assert exit_info.value.code == 2

"""`nitro-wallet enclave measure|describe|attest` and `kms key-policy --local-enclave`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.enclave import measurement

ENDPOINT = "http://127.0.0.1:45678"


def test_measure_prints_the_pcrs_the_emulated_enclave_boots_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enclave", "measure", "--kms-endpoint", ENDPOINT]) == 0
    printed = json.loads(capsys.readouterr().out)["Measurements"]
    expected = measurement.measure({"kms_endpoint": ENDPOINT, "kms_region": "us-east-1"})
    assert {key: printed[key] for key in ("PCR0", "PCR1", "PCR2")} == expected.hex()


def test_measure_depends_on_the_image_config(capsys: pytest.CaptureFixture[str]) -> None:
    main(["enclave", "measure", "--kms-endpoint", ENDPOINT])
    one = json.loads(capsys.readouterr().out)["Measurements"]
    main(["enclave", "measure", "--kms-endpoint", ENDPOINT, "--kms-region", "eu-west-1"])
    other = json.loads(capsys.readouterr().out)["Measurements"]
    assert one["PCR0"] != other["PCR0"]
    assert one["PCR1"] == other["PCR1"]  # the runtime did not change


def test_key_policy_for_the_local_enclave_pins_its_pcr0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kms", "key-policy", "--local-enclave", ENDPOINT]) == 0
    policy = json.loads(capsys.readouterr().out)
    pcr0 = measurement.measure({"kms_endpoint": ENDPOINT, "kms_region": "us-east-1"}).pcr0.hex()
    conditions = [s["Condition"] for s in policy["Statement"] if "Condition" in s]
    assert conditions
    assert all(
        c["StringEqualsIgnoreCase"]["kms:RecipientAttestation:ImageSha384"] == pcr0 for c in conditions
    )


def test_local_enclave_and_pcr0_are_exclusive() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["kms", "key-policy", "--local-enclave", ENDPOINT, "--pcr0", "00" * 48])
    assert exit_info.value.code == 2


def test_describe_without_an_enclave_fails_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enclave", "describe", "--connect", f"unix:{tmp_path / 'none.sock'}"]) == 1
    assert "unavailable" in capsys.readouterr().err


def test_attest_refuses_a_nonce_that_is_not_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["enclave", "attest", "--connect", f"unix:{tmp_path / 's'}", "--nonce", "xyz", "--out", "d"]
    assert main(args) == 2
    assert "--nonce must be hex" in capsys.readouterr().err

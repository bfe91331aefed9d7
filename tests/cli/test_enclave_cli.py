"""`nitro-wallet enclave measure|describe|attest` and `kms key-policy --local-enclave`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.enclave import measurement

ENDPOINT = "http://127.0.0.1:45678"
IMAGE_SHA384 = "kms:RecipientAttestation:ImageSha384"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMAGE = ["--kms-endpoint", ENDPOINT, "--kms-key-arn", KEY_ARN]
CONFIG = measurement.image_config(kms_endpoint=ENDPOINT, kms_region="us-east-1", kms_key_arn=KEY_ARN)


def test_measure_prints_the_pcrs_the_emulated_enclave_boots_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enclave", "measure", *IMAGE]) == 0
    printed = json.loads(capsys.readouterr().out)["Measurements"]
    expected = measurement.measure(CONFIG)
    assert {key: printed[key] for key in ("PCR0", "PCR1", "PCR2")} == expected.hex()


def test_measure_depends_on_the_image_config(capsys: pytest.CaptureFixture[str]) -> None:
    main(["enclave", "measure", *IMAGE])
    one = json.loads(capsys.readouterr().out)["Measurements"]
    main(["enclave", "measure", *IMAGE, "--kms-region", "eu-west-1"])
    region = json.loads(capsys.readouterr().out)["Measurements"]
    main(
        [
            "enclave",
            "measure",
            "--kms-endpoint",
            ENDPOINT,
            "--kms-key-arn",
            KEY_ARN.replace("1234abcd", "9999abcd"),
        ]
    )
    key = json.loads(capsys.readouterr().out)["Measurements"]
    main(["enclave", "measure", *IMAGE, "--role", "signer"])
    role = json.loads(capsys.readouterr().out)["Measurements"]
    main(["enclave", "measure", *IMAGE, "--reference-kms-key-arn", KEY_ARN.replace("1234abcd", "5555abcd")])
    reference = json.loads(capsys.readouterr().out)["Measurements"]
    main(["enclave", "measure", *IMAGE, "--role", "wallet"])  # the default: measured as without it
    assert json.loads(capsys.readouterr().out)["Measurements"] == one
    for other in (region, key, role, reference):
        assert one["PCR0"] != other["PCR0"]
        assert one["PCR1"] == other["PCR1"]  # the runtime did not change


def test_key_policy_for_the_local_enclave_pins_its_pcr0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kms", "key-policy", "--local-enclave", ENDPOINT, "--kms-key-arn", KEY_ARN]) == 0
    policy = json.loads(capsys.readouterr().out)
    pcr0 = measurement.measure(CONFIG).pcr0.hex()
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow" and "Condition" in s]
    assert allows
    assert all(s["Condition"]["StringEqualsIgnoreCase"][IMAGE_SHA384] == pcr0 for s in allows)


def test_local_enclave_needs_the_key_it_is_configured_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kms", "key-policy", "--local-enclave", ENDPOINT]) == 2
    assert "--kms-key-arn" in capsys.readouterr().err


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

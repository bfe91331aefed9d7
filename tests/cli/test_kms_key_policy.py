"""`nitro-wallet kms key-policy` prints what key_policy() builds; bad input exits 2 naming the option."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.host.key_policy import DEBUG_POLICY_WARNING, ZERO_PCR, admin_policy, key_policy
from nitro_wallet.kms_emulator.policy import Decision, RequestContext, evaluate, parse_policy

PCR0 = hashlib.sha384(b"an enclave image").hexdigest()
PCR4 = hashlib.sha384(b"an instance id").hexdigest()
PCR8 = hashlib.sha384(b"a signing certificate").hexdigest()
SIGNER = "arn:aws:iam::123456789012:role/signer"
GENERATOR = "arn:aws:iam::123456789012:role/generator"
ADMIN = "arn:aws:iam::123456789012:user/alice"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["kms", "key-policy", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_prints_the_generated_policy(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--pcr0", PCR0)
    assert (status, err) == (0, "")
    assert json.loads(out) == key_policy(pcr0=PCR0)
    assert out == json.dumps(key_policy(pcr0=PCR0), indent=2) + "\n"


def test_printed_policy_releases_the_key_to_the_attested_enclave(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--pcr0", PCR0)

    def decide(pcr0: str) -> Decision:
        context = RequestContext(
            action="kms:Decrypt",
            principal_arn="arn:aws:iam::111122223333:role/nitro-wallet-enclave",
            account_id="111122223333",
            attestation_pcrs={0: bytes.fromhex(pcr0)},
            encryption_context={},
        )
        return evaluate(parse_policy(out), context)

    assert decide(PCR0) is Decision.ALLOW
    assert decide(ZERO_PCR) is Decision.IMPLICIT_DENY


def test_pcr_option_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--pcr0", PCR0, "--pcr", f"8={PCR8}", "--pcr", f"4={PCR4.upper()}")
    assert status == 0
    assert json.loads(out) == key_policy(pcr0=PCR0, pcrs={8: PCR8, 4: PCR4})


def test_principal_options(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        *("--pcr0", PCR0, "--decrypt-principal", SIGNER, "--encrypt-principal", GENERATOR),
        *("--admin-principal", ADMIN),
    )
    assert status == 0
    expected = key_policy(
        pcr0=PCR0, decrypt_principal=SIGNER, encrypt_principal=GENERATOR, admin_principal=ADMIN
    )
    assert json.loads(out) == expected


def test_no_encrypt_principal(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--pcr0", PCR0, "--no-encrypt-principal")
    assert status == 0
    assert json.loads(out) == key_policy(pcr0=PCR0, encrypt_principal=None)


def test_the_split_layouts_generator_may_only_generate_wallet_key_data_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    generator_pcr0 = hashlib.sha384(b"the generator image").hexdigest()
    status, out, _ = run(capsys, "--pcr0", PCR0, "--generator-pcr0", generator_pcr0, "--no-encrypt-principal")
    assert status == 0
    assert json.loads(out) == key_policy(pcr0=PCR0, generator_pcr0=generator_pcr0, encrypt_principal=None)

    def decide(action: str, principal: str, pcr0: str | None, purpose: str) -> Decision:
        context = RequestContext(
            action=action,
            principal_arn=f"arn:aws:iam::111122223333:role/nitro-wallet-{principal}",
            account_id="111122223333",
            attestation_pcrs=None if pcr0 is None else {0: bytes.fromhex(pcr0)},
            encryption_context={"nitro-wallet-purpose": purpose},
        )
        return evaluate(parse_policy(out), context)

    assert decide("kms:GenerateDataKey", "generator", generator_pcr0, "wallet-key") is Decision.ALLOW
    assert decide("kms:GenerateDataKey", "generator", generator_pcr0, "data-key") is Decision.IMPLICIT_DENY
    assert decide("kms:GenerateDataKey", "generator", PCR0, "wallet-key") is Decision.IMPLICIT_DENY
    assert decide("kms:GenerateDataKey", "generator", None, "wallet-key") is Decision.IMPLICIT_DENY
    assert decide("kms:Decrypt", "generator", generator_pcr0, "wallet-key") is Decision.IMPLICIT_DENY
    assert decide("kms:Decrypt", "enclave", PCR0, "wallet-key") is Decision.ALLOW
    for purpose in ("wallet-key", "data-key"):
        assert decide("kms:Encrypt", "generator", None, purpose) is Decision.EXPLICIT_DENY


def test_debug_mode_prints_the_zero_pcr0_policy_and_the_warning_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "--debug-mode")
    assert status == 0
    assert json.loads(out) == key_policy(pcr0=ZERO_PCR, debug=True)
    assert DEBUG_POLICY_WARNING in err
    assert "WARNING" not in out


def test_debug_mode_accepts_an_explicit_zero_pcr0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--debug-mode", "--pcr0", ZERO_PCR)
    assert status == 0
    assert json.loads(out) == key_policy(pcr0=ZERO_PCR, debug=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pcr0", "xyz"), "--pcr0: must be exactly 96 hex characters"),
        (("--pcr0", PCR0 + "0"), "--pcr0: must be exactly 96 hex characters"),
        ((), "--pcr0: is required"),
        (("--pcr0", ZERO_PCR), "--debug-mode"),
        (("--debug-mode", "--pcr0", PCR0), "--pcr0: a debug-mode policy matches debug-mode enclaves"),
        (("--pcr0", PCR0, "--pcr", f"8:{PCR8}"), "--pcr: expected N=HEX"),
        (("--pcr0", PCR0, "--pcr", f"x={PCR8}"), "--pcr: expected N=HEX"),
        (("--pcr0", PCR0, f"--pcr=-1={PCR8}"), "--pcr: expected N=HEX"),
        (("--pcr0", PCR0, "--pcr", "8=zz"), "--pcr 8: must be exactly 96 hex characters"),
        (("--pcr0", PCR0, "--pcr", f"32={PCR8}"), "--pcr: PCR index 32 is not in 0..31"),
        (("--pcr0", PCR0, "--pcr", f"0={PCR8}"), "--pcr: PCR0 is given by pcr0"),
        (("--pcr0", PCR0, "--pcr", f"8={PCR8}", "--pcr", f"8={PCR4}"), "--pcr: PCR8 given twice"),
        (("--pcr0", PCR0, "--decrypt-principal", "bob"), "--decrypt-principal: 'bob' is not an IAM ARN"),
        (("--pcr0", PCR0, "--encrypt-principal", "*"), "--encrypt-principal: '*' is not an IAM ARN"),
        (("--pcr0", PCR0, "--admin-principal", "x"), "--admin-principal: 'x' is not an IAM ARN"),
        (("--pcr0", PCR0, "--generator-pcr0", PCR4), "--encrypt-principal: the split layout's generator"),
        (
            ("--pcr0", PCR0, "--generator-pcr0", "zz", "--no-encrypt-principal"),
            "--generator-pcr0: must be exactly 96 hex characters",
        ),
        (
            (
                *("--pcr0", PCR0, "--generator-pcr0", PCR4, "--no-encrypt-principal"),
                *("--decrypt-principal", SIGNER, "--generator-principal", SIGNER),
            ),
            "--generator-principal: must differ",
        ),
        (
            ("--pcr0", PCR0, "--admin-principal", SIGNER, "--decrypt-principal", SIGNER),
            "--admin-principal: must",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    status, out, err = run(capsys, *args)
    assert status == 2
    assert out == ""
    assert err.startswith("nitro-wallet kms key-policy: error: ")
    assert message in err


def test_encrypt_principal_options_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "--pcr0", PCR0, "--encrypt-principal", GENERATOR, "--no-encrypt-principal")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_real_process_keeps_the_warning_off_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nitro_wallet.cli.main", "kms", "key-policy", "--debug-mode"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout) == key_policy(pcr0=ZERO_PCR, debug=True)
    assert DEBUG_POLICY_WARNING in result.stderr


def test_awaiting_enclave_emits_the_administration_only_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kms", "key-policy", "--awaiting-enclave"]) == 0
    assert json.loads(capsys.readouterr().out) == admin_policy()


def test_awaiting_enclave_refuses_the_account_root(capsys: pytest.CaptureFixture[str]) -> None:
    root = "arn:aws:iam::111122223333:root"
    assert main(["kms", "key-policy", "--awaiting-enclave", "--admin-principal", root]) == 2
    assert "account root" in capsys.readouterr().err


def test_awaiting_enclave_and_pcr0_are_exclusive() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["kms", "key-policy", "--awaiting-enclave", "--pcr0", "ab" * 48])
    assert exit_info.value.code == 2

"""The key-policy generator, checked by evaluating what it generates with the emulator's evaluator."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.attestation import document
from nitro_wallet.host.key_policy import (
    DEBUG_POLICY_WARNING,
    DEFAULT_ADMIN_PRINCIPAL,
    DEFAULT_ENCLAVE_PRINCIPAL,
    DEFAULT_GENERATOR_PRINCIPAL,
    LOCAL_ACCOUNT,
    ZERO_PCR,
    KeyPolicyError,
    admin_policy,
    key_policy,
)
from nitro_wallet.kms_emulator import principals
from nitro_wallet.kms_emulator.policy import Decision, RequestContext, evaluate, parse_policy
from nitro_wallet.wire.methods import DATA_KEY_CONTEXT

PCR0 = hashlib.sha384(b"an enclave image").hexdigest()
PCR0_OTHER = hashlib.sha384(b"another enclave image").hexdigest()
PCR8 = hashlib.sha384(b"a signing certificate").hexdigest()
PCR8_OTHER = hashlib.sha384(b"another signing certificate").hexdigest()
STRANGER = f"arn:aws:iam::{LOCAL_ACCOUNT}:user/someone-else"
FOREIGN_ENCLAVE = "arn:aws:iam::444455556666:role/nitro-wallet-enclave"

CRYPTO_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateRandom",
    "kms:GenerateMac",
    "kms:Sign",
    "kms:DeriveSharedSecret",
    "kms:CreateGrant",  # a grant carries no attestation condition
)
ADMIN_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:DescribeKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:EnableKeyRotation",
    "kms:DisableKey",
    "kms:CreateAlias",
    "kms:TagResource",
    "kms:ListResourceTags",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
)


def decide(
    policy: Mapping[str, Any],
    action: str,
    principal: str = DEFAULT_ENCLAVE_PRINCIPAL,
    pcrs: Mapping[int, str] | None = None,
    context: Mapping[str, str] | None = None,
) -> Decision:
    """Evaluate a generated policy as the emulator would: through JSON text, like KMS receives it."""
    parsed = parse_policy(json.dumps(policy))
    attestation = None if pcrs is None else {index: bytes.fromhex(value) for index, value in pcrs.items()}
    return evaluate(
        parsed,
        RequestContext(
            action=action,
            principal_arn=principal,
            account_id=LOCAL_ACCOUNT,
            attestation_pcrs=attestation,
            encryption_context=dict(context or {}),
        ),
    )


# --- the attested enclave -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom"])
def test_enclave_with_matching_pcr0_is_allowed(action: str) -> None:
    assert decide(key_policy(pcr0=PCR0), action, pcrs={0: PCR0}) is Decision.ALLOW


def test_enclave_with_another_pcr0_is_denied() -> None:
    assert decide(key_policy(pcr0=PCR0), "kms:Decrypt", pcrs={0: PCR0_OTHER}) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom"])
def test_request_without_attestation_is_denied(action: str) -> None:
    assert decide(key_policy(pcr0=PCR0), action, pcrs=None) is Decision.IMPLICIT_DENY


def test_debug_enclave_is_denied_by_a_production_policy() -> None:
    zeros = {0: ZERO_PCR, 1: ZERO_PCR, 2: ZERO_PCR}
    assert decide(key_policy(pcr0=PCR0), "kms:Decrypt", pcrs=zeros) is Decision.IMPLICIT_DENY


def test_real_debug_mode_document_is_denied_by_production_and_allowed_by_debug_policy(vectors: Path) -> None:
    data = (vectors / "attestation" / "debug_us-east-2_2024-08-16.cbor").read_bytes()
    pcrs = {index: value.hex() for index, value in document.parse(data).document.pcrs.items()}
    assert decide(key_policy(pcr0=PCR0), "kms:Decrypt", pcrs=pcrs) is Decision.IMPLICIT_DENY
    debug = key_policy(pcr0=ZERO_PCR, debug=True)
    assert decide(debug, "kms:Decrypt", pcrs=pcrs) is Decision.ALLOW


def test_debug_policy_allows_the_zero_pcr0_and_denies_a_real_one() -> None:
    debug = key_policy(pcr0=ZERO_PCR, debug=True)
    assert decide(debug, "kms:Decrypt", pcrs={0: ZERO_PCR}) is Decision.ALLOW
    assert decide(debug, "kms:Decrypt", pcrs={0: PCR0}) is Decision.IMPLICIT_DENY
    assert decide(debug, "kms:Decrypt", pcrs=None) is Decision.IMPLICIT_DENY
    assert "DEBUG" in debug["Id"]


def test_extra_pcr_conditions_must_all_match() -> None:
    policy = key_policy(pcr0=PCR0, pcrs={8: PCR8})
    assert decide(policy, "kms:Decrypt", pcrs={0: PCR0, 8: PCR8}) is Decision.ALLOW
    assert decide(policy, "kms:Decrypt", pcrs={0: PCR0, 8: PCR8_OTHER}) is Decision.IMPLICIT_DENY
    assert decide(policy, "kms:Decrypt", pcrs={0: PCR0}) is Decision.IMPLICIT_DENY
    assert decide(policy, "kms:Decrypt", pcrs={0: PCR0_OTHER, 8: PCR8}) is Decision.IMPLICIT_DENY


def test_enclave_may_describe_the_key_without_attestation_but_not_encrypt() -> None:
    policy = key_policy(pcr0=PCR0)
    assert decide(policy, "kms:DescribeKey") is Decision.ALLOW
    assert decide(policy, "kms:Encrypt", pcrs={0: PCR0}) is Decision.IMPLICIT_DENY
    assert decide(policy, "kms:PutKeyPolicy", pcrs={0: PCR0}) is Decision.IMPLICIT_DENY
    assert decide(policy, "kms:CreateGrant", pcrs={0: PCR0}) is Decision.IMPLICIT_DENY


def test_pcr_values_are_lowercased_and_still_match() -> None:
    policy = key_policy(pcr0=PCR0.upper(), pcrs={8: PCR8.upper()})
    condition = policy["Statement"][1]["Condition"]["StringEqualsIgnoreCase"]
    assert condition == {
        "kms:RecipientAttestation:ImageSha384": PCR0,
        "kms:RecipientAttestation:PCR8": PCR8,
    }
    assert decide(policy, "kms:Decrypt", pcrs={0: PCR0, 8: PCR8}) is Decision.ALLOW


# --- the administrator, the key generator, everyone else ------------------------------------------------


@pytest.mark.parametrize("action", CRYPTO_ACTIONS)
def test_admin_cannot_use_the_key_even_from_an_attested_enclave(action: str) -> None:
    policy = key_policy(pcr0=PCR0)
    assert decide(policy, action, DEFAULT_ADMIN_PRINCIPAL, pcrs={0: PCR0}) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_admin_can_manage_the_key(action: str) -> None:
    assert decide(key_policy(pcr0=PCR0), action, DEFAULT_ADMIN_PRINCIPAL) is Decision.ALLOW


@pytest.mark.parametrize("action", ["kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"])
def test_key_generator_may_encrypt(action: str) -> None:
    assert decide(key_policy(pcr0=PCR0), action, DEFAULT_GENERATOR_PRINCIPAL) is Decision.ALLOW


@pytest.mark.parametrize(
    "action", [a for a in CRYPTO_ACTIONS if a not in ("kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext")]
)
def test_key_generator_cannot_decrypt_even_from_an_attested_enclave(action: str) -> None:
    policy = key_policy(pcr0=PCR0)
    assert decide(policy, action, DEFAULT_GENERATOR_PRINCIPAL, pcrs={0: PCR0}) is Decision.IMPLICIT_DENY
    assert decide(policy, "kms:PutKeyPolicy", DEFAULT_GENERATOR_PRINCIPAL) is Decision.IMPLICIT_DENY


def test_without_encrypt_principal_nobody_may_encrypt() -> None:
    policy = key_policy(pcr0=PCR0, encrypt_principal=None)
    assert [statement["Sid"] for statement in policy["Statement"]] == [
        "KeyAdministration",
        "AttestedEnclaveUse",
        "EnclaveDescribeKey",
        "DataKeysAreOnlyGeneratedForTheEnclave",
    ]
    for principal in (DEFAULT_GENERATOR_PRINCIPAL, DEFAULT_ENCLAVE_PRINCIPAL, DEFAULT_ADMIN_PRINCIPAL):
        assert decide(policy, "kms:Encrypt", principal) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("principal", [STRANGER, FOREIGN_ENCLAVE, f"arn:aws:iam::{LOCAL_ACCOUNT}:root"])
@pytest.mark.parametrize("action", CRYPTO_ACTIONS + ADMIN_ACTIONS)
def test_any_other_principal_gets_nothing(principal: str, action: str) -> None:
    assert decide(key_policy(pcr0=PCR0), action, principal, pcrs={0: PCR0}) is Decision.IMPLICIT_DENY


def test_custom_principals_are_used() -> None:
    decrypt = "arn:aws:iam::123456789012:role/path/signer"
    encrypt = "arn:aws:iam::123456789012:role/generator"
    admin = "arn:aws:iam::123456789012:user/key-admin"
    policy = key_policy(
        pcr0=PCR0, decrypt_principal=decrypt, encrypt_principal=encrypt, admin_principal=admin
    )
    assert decide(policy, "kms:Decrypt", decrypt, pcrs={0: PCR0}) is Decision.ALLOW
    assert decide(policy, "kms:Encrypt", encrypt) is Decision.ALLOW
    assert decide(policy, "kms:Decrypt", DEFAULT_ENCLAVE_PRINCIPAL, pcrs={0: PCR0}) is Decision.IMPLICIT_DENY


# --- shape ----------------------------------------------------------------------------------------------


def test_generated_policy_survives_parse_policy() -> None:
    for policy in (
        key_policy(pcr0=PCR0),
        key_policy(pcr0=PCR0, pcrs={1: PCR8, 2: PCR8, 3: PCR8, 4: PCR8, 8: PCR8, 31: PCR8}),
        key_policy(pcr0=ZERO_PCR, debug=True),
        key_policy(pcr0=PCR0, encrypt_principal=None),
    ):
        parsed = parse_policy(json.dumps(policy))
        assert len(parsed.statements) == len(policy["Statement"])


def test_statements_and_their_conditions() -> None:
    policy = key_policy(pcr0=PCR0, pcrs={8: PCR8, 4: PCR8_OTHER})
    assert policy["Version"] == "2012-10-17"
    admin, attested, describe, generator, no_supplied_data_keys = policy["Statement"]
    assert admin["Principal"] == {"AWS": DEFAULT_ADMIN_PRINCIPAL}
    assert attested["Action"] == ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom"]
    assert attested["Condition"] == {
        "StringEqualsIgnoreCase": {
            "kms:RecipientAttestation:ImageSha384": PCR0,
            "kms:RecipientAttestation:PCR4": PCR8_OTHER,
            "kms:RecipientAttestation:PCR8": PCR8,
        }
    }
    assert describe == {
        "Sid": "EnclaveDescribeKey",
        "Effect": "Allow",
        "Principal": {"AWS": DEFAULT_ENCLAVE_PRINCIPAL},
        "Action": ["kms:DescribeKey"],
        "Resource": "*",
    }
    assert generator["Principal"] == {"AWS": DEFAULT_GENERATOR_PRINCIPAL}
    assert no_supplied_data_keys["Effect"] == "Deny"
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"][:-1])
    assert all(statement["Resource"] == "*" for statement in policy["Statement"])


@pytest.mark.parametrize("principal", [DEFAULT_GENERATOR_PRINCIPAL, DEFAULT_ENCLAVE_PRINCIPAL, STRANGER])
@pytest.mark.parametrize("action", ["kms:Encrypt", "kms:ReEncryptTo", "kms:ReEncryptFrom"])
def test_nobody_may_supply_a_data_key(principal: str, action: str) -> None:
    """Under the data-key context, Encrypt and ReEncrypt are denied to everyone, the generator included."""
    policy = key_policy(pcr0=PCR0)
    context = dict(DATA_KEY_CONTEXT)
    assert decide(policy, action, principal, pcrs={0: PCR0}, context=context) is Decision.EXPLICIT_DENY
    assert decide(admin_policy(), action, principal, context=context) is Decision.EXPLICIT_DENY


def test_the_generator_still_encrypts_outside_the_data_key_context() -> None:
    policy = key_policy(pcr0=PCR0)
    assert decide(policy, "kms:Encrypt", DEFAULT_GENERATOR_PRINCIPAL) is Decision.ALLOW
    assert (
        decide(policy, "kms:Encrypt", DEFAULT_GENERATOR_PRINCIPAL, context={"other": "x"}) is Decision.ALLOW
    )


def test_the_enclave_still_generates_data_keys_when_attested() -> None:
    policy = key_policy(pcr0=PCR0)
    context = dict(DATA_KEY_CONTEXT)
    assert decide(policy, "kms:GenerateDataKey", pcrs={0: PCR0}, context=context) is Decision.ALLOW
    assert decide(policy, "kms:GenerateDataKey", context=context) is Decision.IMPLICIT_DENY


def test_admin_policy_lets_the_admin_install_the_real_policy_and_nobody_use_the_key() -> None:
    policy = admin_policy()
    assert decide(policy, "kms:PutKeyPolicy", DEFAULT_ADMIN_PRINCIPAL) is Decision.ALLOW
    for principal in (DEFAULT_ADMIN_PRINCIPAL, DEFAULT_ENCLAVE_PRINCIPAL, DEFAULT_GENERATOR_PRINCIPAL):
        for action in CRYPTO_ACTIONS:
            assert decide(policy, action, principal, pcrs={0: PCR0}) is not Decision.ALLOW


@pytest.mark.parametrize("admin", [f"arn:aws:iam::{LOCAL_ACCOUNT}:root", "arn:aws:iam::123456789012:root"])
def test_the_account_root_may_not_administer(admin: str) -> None:
    """Root delegates to IAM: a role allowed PutKeyPolicy (the host's) could rewrite the policy."""
    with pytest.raises(KeyPolicyError, match="account root") as refused:
        key_policy(pcr0=PCR0, admin_principal=admin)
    assert refused.value.field == "admin_principal"


def test_debug_warning_says_what_it_permits() -> None:
    text = DEBUG_POLICY_WARNING.lower()
    for phrase in ("debug-mode enclave", "any code", "any instance", "never use it for real keys"):
        assert phrase in text


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"pcr0": PCR0[:-2]}, "pcr0", "exactly 96 hex characters"),
        ({"pcr0": PCR0 + "00"}, "pcr0", "exactly 96 hex characters"),
        ({"pcr0": "g" * 96}, "pcr0", "exactly 96 hex characters"),
        ({"pcr0": " " + PCR0[1:]}, "pcr0", "exactly 96 hex characters"),
        ({"pcr0": ""}, "pcr0", "exactly 96 hex characters"),
        ({"pcr0": ZERO_PCR}, "pcr0", "debug=True, --debug-mode"),
        ({"pcr0": PCR0, "debug": True}, "pcr0", "a non-zero PCR0 belongs in a production policy"),
        ({"pcr0": PCR0, "pcrs": {0: PCR0}}, "pcrs", "PCR0 is given by pcr0"),
        ({"pcr0": PCR0, "pcrs": {32: PCR8}}, "pcrs", "PCR index 32 is not in 0..31"),
        ({"pcr0": PCR0, "pcrs": {-1: PCR8}}, "pcrs", "PCR index -1 is not in 0..31"),
        ({"pcr0": PCR0, "pcrs": {True: PCR8}}, "pcrs", "PCR index True is not in 0..31"),
        ({"pcr0": PCR0, "pcrs": {"8": PCR8}}, "pcrs", "PCR index '8' is not in 0..31"),
        ({"pcr0": PCR0, "pcrs": {8: "abc"}}, "pcrs[8]", "exactly 96 hex characters"),
        ({"pcr0": PCR0, "pcrs": {1: ZERO_PCR}}, "pcrs[1]", "all zeros is only valid in a debug-mode policy"),
        ({"pcr0": ZERO_PCR, "debug": True, "pcrs": {2: PCR8}}, "pcrs[2]", "must be all zeros in a debug"),
        ({"pcr0": PCR0, "decrypt_principal": "*"}, "decrypt_principal", "is not an IAM ARN"),
        ({"pcr0": PCR0, "decrypt_principal": LOCAL_ACCOUNT}, "decrypt_principal", "is not an IAM ARN"),
        ({"pcr0": PCR0, "encrypt_principal": "arn:aws:iam::1111:role/x"}, "encrypt_principal", "not an IAM"),
        ({"pcr0": PCR0, "admin_principal": "arn:aws:iam::111122223333:group/x"}, "admin_principal", "IAM"),
        ({"pcr0": PCR0, "admin_principal": "arn:aws:iam::111122223333:role/"}, "admin_principal", "IAM"),
        (
            {"pcr0": PCR0, "admin_principal": "arn:aws:sts::111122223333:assumed-role/a/b"},
            "admin_principal",
            "is not an IAM ARN",
        ),
        ({"pcr0": PCR0, "admin_principal": DEFAULT_ENCLAVE_PRINCIPAL}, "admin_principal", "must differ"),
        ({"pcr0": PCR0, "admin_principal": DEFAULT_GENERATOR_PRINCIPAL}, "admin_principal", "must differ"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(KeyPolicyError) as refused:
        key_policy(**kwargs)
    assert isinstance(refused.value, ValueError)
    assert refused.value.field == field
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"{field}: ")


def test_debug_policy_may_pin_pcrs_a_debug_enclave_still_reports() -> None:
    pcr3 = hashlib.sha384(b"an instance role").hexdigest()
    policy = key_policy(pcr0=ZERO_PCR, debug=True, pcrs={1: ZERO_PCR, 3: pcr3})
    assert decide(policy, "kms:Decrypt", pcrs={0: ZERO_PCR, 1: ZERO_PCR, 3: pcr3}) is Decision.ALLOW
    assert decide(policy, "kms:Decrypt", pcrs={0: ZERO_PCR, 1: ZERO_PCR, 3: PCR8}) is Decision.IMPLICIT_DENY


def test_default_principals_are_the_emulators() -> None:
    """The generator's defaults name the principals the local KMS emulator creates (two lists, one truth)."""
    assert principals.LOCAL_ACCOUNT == LOCAL_ACCOUNT
    assert principals.PROFILES == {
        "default": DEFAULT_ADMIN_PRINCIPAL,
        "enclave": DEFAULT_ENCLAVE_PRINCIPAL,
        "generator": DEFAULT_GENERATOR_PRINCIPAL,
    }


def test_the_account_root_may_not_administer_a_key_awaiting_its_enclave() -> None:
    with pytest.raises(KeyPolicyError, match="account root"):
        admin_policy(f"arn:aws:iam::{LOCAL_ACCOUNT}:root")
    with pytest.raises(KeyPolicyError):  # not even a well-formed IAM ARN
        admin_policy(f"arn:aws:iam::{LOCAL_ACCOUNT}:ROOT")

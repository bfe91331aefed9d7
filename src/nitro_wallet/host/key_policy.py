"""KMS key policies that release key material only to an attested enclave (operator tooling, pure).

`key_policy()` builds the policy for nitro-wallet's KMS key, in the shape of the AWS reference designs'
policies but tighter. Three kinds of principal:

* the administrator (`admin_principal`) may manage the key and never use it: no Decrypt, Encrypt,
  ReEncrypt*, GenerateDataKey*, and no CreateGrant either (a grant carries no attestation condition, so it
  would be a quiet way around one). An administrator who may PutKeyPolicy can still rewrite this policy:
  that is AWS's model, so keep the administrator a person, never a role the host instance can assume,
  and never the account root (which delegates to IAM: any role IAM lets PutKeyPolicy, the enclave's
  included, could then rewrite the policy and decrypt without attestation);
* the enclave's principal (`decrypt_principal`, the role whose credentials sign the enclave's KMS
  requests) may Decrypt, GenerateDataKey and GenerateRandom only with a valid attestation document whose
  PCR0 (`kms:RecipientAttestation:ImageSha384`) and any further PCRs equal the given values, and may
  DescribeKey;
* the key generator (`encrypt_principal`, optional) may Encrypt and GenerateDataKeyWithoutPlaintext:
  it can wrap keys, never unwrap them;
* or, in nitro-wallet's split layout (`generator_pcr0`), the generator enclave's principal
  (`generator_principal`) may only GenerateDataKey, attested to that PCR0 and under WALLET_KEY_CONTEXT: a
  fresh data key per key it makes, nothing it could decrypt with. It needs no Encrypt, which would put
  the key in a KMS request and could not be bound to an attestation.

Whatever the principals, nobody may Encrypt or ReEncrypt under the data-key or wallet-key encryption
contexts (`wire.methods.DATA_KEY_CONTEXT`, `WALLET_KEY_CONTEXT`): those data keys come only from attested
GenerateDataKey calls, so no one can plant a data key they know.

`admin_policy()` is the policy of a key created before its enclave's measurement exists (the measurement
names the key): it lets the administrator install the real policy and nothing else.

Debug-mode enclaves report an all-zero PCR0 (and PCR1, PCR2) whatever code they run, so a policy that
accepts the zero PCR0 trusts every debug-mode enclave: it is only built with `debug=True`, and the
production form refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nitro_wallet.wire.methods import DATA_KEY_CONTEXT, WALLET_KEY_CONTEXT

ZERO_PCR = "0" * 96
LOCAL_ACCOUNT = "111122223333"
DEFAULT_ADMIN_PRINCIPAL = f"arn:aws:iam::{LOCAL_ACCOUNT}:user/nitro-wallet-admin"
DEFAULT_ENCLAVE_PRINCIPAL = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/nitro-wallet-enclave"  # decrypt (signer)
DEFAULT_GENERATOR_PRINCIPAL = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/nitro-wallet-generator"  # encrypt

POLICY_VERSION = "2012-10-17"
PCR_INDEXES = range(32)
DEBUG_ZERO_PCRS = (0, 1, 2)  # what a debug-mode enclave reports as all zeros, whatever it runs

IMAGE_SHA384_KEY = "kms:RecipientAttestation:ImageSha384"
PCR_KEY_PREFIX = "kms:RecipientAttestation:PCR"

ADMIN_ACTIONS = (
    "kms:CreateAlias",  # not kms:Create*: that includes CreateGrant
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
ATTESTED_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom")
ENCRYPT_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")
GENERATOR_ACTIONS = ("kms:GenerateDataKey",)
DATA_KEY_DENIED_ACTIONS = ("kms:Encrypt", "kms:ReEncrypt*")

DEBUG_POLICY_WARNING = """\
!!! WARNING: DEBUG-MODE KMS KEY POLICY -- NEVER USE IT FOR REAL KEYS !!!
Its only attestation condition is the all-zero PCR0 that EVERY enclave started in debug mode reports.
It lets ANY debug-mode enclave, running ANY code, on ANY instance where the decrypt principal's
credentials are available, decrypt with this key and generate data keys. Debug-mode enclaves also
show their console to the parent instance. Use it only for throwaway test keys; for real keys, build
the policy from the PCR0 of a production (non-debug) enclave image."""

_HEX_PCR = re.compile(r"[0-9a-fA-F]{96}")
_IAM_PRINCIPAL = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:(?:root|(?:user|role)(?:/[A-Za-z0-9_+=,.@-]+)+)"
)


class KeyPolicyError(ValueError):
    """A key_policy() argument is invalid; `field` names the parameter."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


def key_policy(
    *,
    pcr0: str,
    pcrs: Mapping[int, str] | None = None,
    decrypt_principal: str = DEFAULT_ENCLAVE_PRINCIPAL,
    encrypt_principal: str | None = DEFAULT_GENERATOR_PRINCIPAL,
    admin_principal: str = DEFAULT_ADMIN_PRINCIPAL,
    generator_pcr0: str | None = None,
    generator_principal: str = DEFAULT_GENERATOR_PRINCIPAL,
    debug: bool = False,
) -> dict[str, Any]:
    """The key policy as a JSON-ready dict; raises KeyPolicyError (a ValueError) on bad arguments."""
    image = _pcr_value(pcr0, "pcr0")
    extra = _extra_pcrs(pcrs or {})
    _check_debug(image, extra, debug=debug)
    generator_image = None
    if generator_pcr0 is not None:
        generator_image = _pcr_value(generator_pcr0, "generator_pcr0")
        _check_debug(generator_image, {}, debug=debug)
        if encrypt_principal is not None:
            raise KeyPolicyError(
                "the split layout's generator wraps with attested GenerateDataKey and needs no Encrypt: "
                "pass encrypt_principal=None with generator_pcr0",
                field="encrypt_principal",
            )
        if generator_principal in (decrypt_principal, admin_principal):
            raise KeyPolicyError(
                "must differ from the decrypt and admin principals", field="generator_principal"
            )
    for field, principal in (
        ("decrypt_principal", decrypt_principal),
        ("encrypt_principal", encrypt_principal),
        ("admin_principal", admin_principal),
        ("generator_principal", generator_principal),
    ):
        if principal is not None:
            _check_principal(principal, field)
    _check_admin(admin_principal)
    if admin_principal in (decrypt_principal, encrypt_principal):
        raise KeyPolicyError(
            "must differ from the decrypt and encrypt principals: the administrator may rewrite the "
            "policy, so a principal that uses the key must not be one",
            field="admin_principal",
        )
    condition = {IMAGE_SHA384_KEY: image} | {f"{PCR_KEY_PREFIX}{i}": extra[i] for i in sorted(extra)}
    statements = [
        _statement("KeyAdministration", admin_principal, ADMIN_ACTIONS),
        _statement(
            "DebugModeEnclaveUseAnyCode" if debug else "AttestedEnclaveUse",
            decrypt_principal,
            ATTESTED_ACTIONS,
            condition={"StringEqualsIgnoreCase": condition},
        ),
        _statement("EnclaveDescribeKey", decrypt_principal, ("kms:DescribeKey",)),
    ]
    if encrypt_principal is not None:
        statements.append(_statement("KeyGeneratorEncryptOnly", encrypt_principal, ENCRYPT_ACTIONS))
    if generator_image is not None:
        wallet_key = {f"kms:EncryptionContext:{key}": value for key, value in WALLET_KEY_CONTEXT.items()}
        statements.append(
            _statement(
                "GeneratorEnclaveWrapsOnly",
                generator_principal,
                GENERATOR_ACTIONS,
                condition={
                    "StringEqualsIgnoreCase": {IMAGE_SHA384_KEY: generator_image},
                    "StringEquals": wallet_key,
                },
            )
        )
    statements.append(_no_supplied_data_keys())
    policy_id = "nitro-wallet-DEBUG-MODE-key-policy-NOT-FOR-REAL-KEYS" if debug else "nitro-wallet-key-policy"
    return {"Version": POLICY_VERSION, "Id": policy_id, "Statement": statements}


def admin_policy(admin_principal: str = DEFAULT_ADMIN_PRINCIPAL) -> dict[str, Any]:
    """A key's policy until its enclave is measured: administration only, nobody may use the key.

    Create the key WITH this policy: a key that ever had a policy without the data-key Deny (AWS's
    default, for one) may hold data keys someone encrypted and knows, and the enclave cannot tell.
    """
    _check_principal(admin_principal, "admin_principal")
    _check_admin(admin_principal)
    statements = [_statement("KeyAdministration", admin_principal, ADMIN_ACTIONS), _no_supplied_data_keys()]
    return {"Version": POLICY_VERSION, "Id": "nitro-wallet-awaiting-enclave", "Statement": statements}


def _no_supplied_data_keys() -> dict[str, Any]:
    """Deny Encrypt and ReEncrypt under the data-key and wallet-key contexts, for everyone."""
    context = {
        f"kms:EncryptionContext:{key}": sorted({value, WALLET_KEY_CONTEXT[key]})
        for key, value in DATA_KEY_CONTEXT.items()
    }
    return {
        "Sid": "DataKeysAreOnlyGeneratedForTheEnclave",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": list(DATA_KEY_DENIED_ACTIONS),
        "Resource": "*",
        "Condition": {"StringEquals": context},
    }


def _pcr_value(value: object, field: str) -> str:
    if not isinstance(value, str) or not _HEX_PCR.fullmatch(value):
        raise KeyPolicyError("must be exactly 96 hex characters (a SHA-384 PCR)", field=field)
    return value.lower()


def _extra_pcrs(pcrs: Mapping[int, str]) -> dict[int, str]:
    extra: dict[int, str] = {}
    for index, value in pcrs.items():
        if isinstance(index, bool) or not isinstance(index, int) or index not in PCR_INDEXES:
            raise KeyPolicyError(f"PCR index {index!r} is not in 0..31", field="pcrs")
        if index == 0:
            raise KeyPolicyError("PCR0 is given by pcr0, not in pcrs", field="pcrs")
        extra[index] = _pcr_value(value, f"pcrs[{index}]")
    return extra


def _check_debug(image: str, extra: Mapping[int, str], *, debug: bool) -> None:
    if debug and image != ZERO_PCR:
        raise KeyPolicyError(
            "a debug-mode policy matches debug-mode enclaves, whose PCR0 is all zeros; "
            "a non-zero PCR0 belongs in a production policy (without debug)",
            field="pcr0",
        )
    if not debug and image == ZERO_PCR:
        raise KeyPolicyError(
            "all zeros is the PCR0 of EVERY debug-mode enclave; a policy accepting it needs the "
            "explicit debug flag (debug=True, --debug-mode)",
            field="pcr0",
        )
    for index in DEBUG_ZERO_PCRS:
        if index in extra and (extra[index] == ZERO_PCR) != debug:
            state = "must be all zeros in" if debug else "all zeros is only valid in"
            raise KeyPolicyError(
                f"PCR{index} {state} a debug-mode policy (debug-mode enclaves report PCR{index} as zeros)",
                field=f"pcrs[{index}]",
            )


def _check_admin(admin_principal: str) -> None:
    if admin_principal.lower().endswith(":root"):
        raise KeyPolicyError(
            "must not be the account root: it delegates to IAM, so any role allowed kms:PutKeyPolicy (the "
            "enclave's included) could rewrite the policy and decrypt without attestation",
            field="admin_principal",
        )


def _check_principal(principal: str, field: str) -> None:
    if not isinstance(principal, str) or not _IAM_PRINCIPAL.fullmatch(principal):
        raise KeyPolicyError(
            f"{principal!r} is not an IAM ARN arn:aws:iam::<12-digit account>:(root|user/NAME|role/NAME)",
            field=field,
        )


def _statement(
    sid: str, principal: str, actions: tuple[str, ...], *, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": list(actions),
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement

"""The key-policy evaluator: the supported subset, IAM-like semantics, and refusal of everything else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from nitro_wallet.kms_emulator.policy import (
    MAX_POLICY_BYTES,
    Decision,
    Effect,
    KeyPolicy,
    MalformedPolicy,
    RequestContext,
    evaluate,
    parse_policy,
)

ACCOUNT = "111122223333"
ENCLAVE = f"arn:aws:iam::{ACCOUNT}:role/enclave"
OTHER = f"arn:aws:iam::{ACCOUNT}:user/other"
FOREIGN = "arn:aws:iam::444455556666:role/enclave"
PCR0 = bytes.fromhex("a1" * 48)
PCR0_OTHER = bytes.fromhex("b2" * 48)
PCR8 = bytes.fromhex("c3" * 48)
IMAGE = "kms:RecipientAttestation:ImageSha384"


def request(
    action: str = "kms:Decrypt",
    principal: str = ENCLAVE,
    pcrs: Mapping[int, bytes] | None = None,
    context: Mapping[str, str] | None = None,
) -> RequestContext:
    return RequestContext(
        action=action,
        principal_arn=principal,
        account_id=ACCOUNT,
        attestation_pcrs=pcrs,
        encryption_context=context or {},
    )


def statement(
    action: str | list[str] = "kms:Decrypt",
    principal: Any = None,
    condition: dict[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"AWS": ENCLAVE} if principal is None else principal,
        "Action": action,
        "Resource": "*",
    }
    if condition is not None:
        result["Condition"] = condition
    return result


def policy(*statements: dict[str, Any]) -> KeyPolicy:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def decide(parsed: KeyPolicy, **kwargs: Any) -> Decision:
    return evaluate(parsed, request(**kwargs))


# --- parsing what is supported --------------------------------------------------------------------------


def test_parse_gives_typed_statements() -> None:
    parsed = parse_policy(
        json.dumps(
            {
                "Id": "example",
                "Statement": {
                    "Sid": "One",
                    "Effect": "Deny",
                    "Principal": {"AWS": [ENCLAVE, ACCOUNT]},
                    "Action": ["kms:Decrypt", "kms:Describe*"],
                    "Resource": ["*"],
                    "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR8": PCR8.hex()}},
                },
            }
        )
    )
    (only,) = parsed.statements
    assert only.sid == "One"
    assert only.effect is Effect.DENY
    assert only.principals == (ENCLAVE, ACCOUNT)
    assert only.actions == ("kms:Decrypt", "kms:Describe*")
    (condition,) = only.conditions
    assert (condition.operator, condition.pcr_index, condition.context_key) == (
        "StringEqualsIgnoreCase",
        8,
        None,
    )
    assert condition.values == (PCR8.hex(),)


def test_image_sha384_is_pcr0_and_context_key_keeps_its_spelling() -> None:
    parsed = policy(
        statement(condition={"StringEquals": {IMAGE: PCR0.hex(), "kms:EncryptionContext:Purpose": "wallet"}})
    )
    image, context = parsed.statements[0].conditions
    assert (image.pcr_index, image.context_key) == (0, None)
    assert (context.pcr_index, context.context_key) == (None, "Purpose")


# --- actions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("kms:Decrypt", "kms:Decrypt", True),
        ("kms:*", "kms:Decrypt", True),
        ("*", "kms:PutKeyPolicy", True),
        ("kms:Describe*", "kms:DescribeKey", True),
        ("kms:Describe*", "kms:Decrypt", False),
        ("kms:?ecrypt", "kms:Decrypt", True),
        ("kms:?ecrypt", "kms:Encrypt", False),
        ("kms:Decrypt?", "kms:Decrypt", False),
        ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", False),  # no prefix match
        ("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", True),
        ("kms:decrypt", "kms:Decrypt", True),  # action names ignore case, like IAM
        ("KMS:DECRYPT", "kms:Decrypt", True),
        ("kms:Decrypt", "KMS:decrypt", True),
        ("kms:describe*", "kms:DescribeKey", True),
    ],
)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    parsed = policy(statement(action=pattern))
    assert decide(parsed, action=action) is (Decision.ALLOW if matches else Decision.IMPLICIT_DENY)


def test_action_list_is_any_of() -> None:
    parsed = policy(statement(action=["kms:Encrypt", "kms:DescribeKey"]))
    assert decide(parsed, action="kms:DescribeKey") is Decision.ALLOW
    assert decide(parsed, action="kms:Encrypt") is Decision.ALLOW
    assert decide(parsed, action="kms:Decrypt") is Decision.IMPLICIT_DENY


# --- effects --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deny_first", [True, False])
def test_explicit_deny_overrides_allow_in_any_order(deny_first: bool) -> None:
    allow = statement(action="kms:*")
    deny = statement(action="kms:Decrypt", effect="Deny")
    parsed = policy(deny, allow) if deny_first else policy(allow, deny)
    assert decide(parsed, action="kms:Decrypt") is Decision.EXPLICIT_DENY
    assert decide(parsed, action="kms:Encrypt") is Decision.ALLOW


def test_nothing_matching_is_an_implicit_deny() -> None:
    parsed = policy(statement(action="kms:Encrypt"))
    assert decide(parsed, action="kms:Decrypt") is Decision.IMPLICIT_DENY


def test_deny_conditioned_on_attestation_does_not_match_a_request_without_one() -> None:
    zero = "0" * 96
    parsed = policy(
        statement(action="kms:Decrypt"),
        statement(action="kms:Decrypt", effect="Deny", condition={"StringEquals": {IMAGE: zero}}),
    )
    assert decide(parsed) is Decision.ALLOW  # no attestation: the Deny's condition is not satisfied
    assert decide(parsed, pcrs={0: bytes(48)}) is Decision.EXPLICIT_DENY
    assert decide(parsed, pcrs={0: PCR0}) is Decision.ALLOW


# --- attestation conditions -----------------------------------------------------------------------------


def test_attested_allow_needs_a_valid_attestation_with_the_pcr() -> None:
    parsed = policy(statement(condition={"StringEqualsIgnoreCase": {IMAGE: PCR0.hex()}}))
    assert decide(parsed, pcrs={0: PCR0}) is Decision.ALLOW
    assert decide(parsed, pcrs={0: PCR0_OTHER}) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs=None) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs={}) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs={8: PCR0}) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("operator", "written", "decision"),
    [
        ("StringEquals", PCR0.hex(), Decision.ALLOW),
        ("StringEquals", PCR0.hex().upper(), Decision.IMPLICIT_DENY),  # PCRs compare as lowercase hex
        ("StringEqualsIgnoreCase", PCR0.hex().upper(), Decision.ALLOW),
        ("StringEqualsIgnoreCase", PCR0.hex(), Decision.ALLOW),
    ],
)
def test_string_equals_is_case_sensitive_and_ignore_case_is_not(
    operator: str, written: str, decision: Decision
) -> None:
    parsed = policy(statement(condition={operator: {IMAGE: written}}))
    assert decide(parsed, pcrs={0: PCR0}) is decision


def test_list_of_values_is_any_of() -> None:
    parsed = policy(statement(condition={"StringEquals": {IMAGE: [PCR0.hex(), PCR0_OTHER.hex()]}}))
    assert decide(parsed, pcrs={0: PCR0}) is Decision.ALLOW
    assert decide(parsed, pcrs={0: PCR0_OTHER}) is Decision.ALLOW
    assert decide(parsed, pcrs={0: PCR8}) is Decision.IMPLICIT_DENY


def test_several_keys_in_a_block_must_all_match() -> None:
    parsed = policy(
        statement(
            condition={"StringEquals": {IMAGE: PCR0.hex(), "kms:RecipientAttestation:PCR8": PCR8.hex()}}
        )
    )
    assert decide(parsed, pcrs={0: PCR0, 8: PCR8}) is Decision.ALLOW
    assert decide(parsed, pcrs={0: PCR0, 8: PCR0_OTHER}) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs={0: PCR0_OTHER, 8: PCR8}) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs={0: PCR0}) is Decision.IMPLICIT_DENY  # PCR8 missing from the document


def test_several_operator_blocks_must_all_match() -> None:
    parsed = policy(
        statement(
            condition={
                "StringEqualsIgnoreCase": {IMAGE: PCR0.hex()},
                "StringEquals": {"kms:EncryptionContext:purpose": "wallet"},
            }
        )
    )
    assert decide(parsed, pcrs={0: PCR0}, context={"purpose": "wallet"}) is Decision.ALLOW
    assert decide(parsed, pcrs={0: PCR0}, context={"purpose": "other"}) is Decision.IMPLICIT_DENY
    assert decide(parsed, pcrs=None, context={"purpose": "wallet"}) is Decision.IMPLICIT_DENY


def test_condition_key_names_ignore_case() -> None:
    parsed = policy(statement(condition={"StringEquals": {"KMS:recipientattestation:PCR8": PCR8.hex()}}))
    assert decide(parsed, pcrs={8: PCR8}) is Decision.ALLOW
    assert decide(parsed, pcrs={8: PCR0}) is Decision.IMPLICIT_DENY


# --- encryption-context conditions ----------------------------------------------------------------------


def test_encryption_context_condition() -> None:
    parsed = policy(statement(condition={"StringEquals": {"kms:EncryptionContext:purpose": "wallet"}}))
    assert decide(parsed, context={"purpose": "wallet"}) is Decision.ALLOW
    assert decide(parsed, context={"purpose": "wallet", "extra": "x"}) is Decision.ALLOW
    assert decide(parsed, context={"purpose": "Wallet"}) is Decision.IMPLICIT_DENY  # StringEquals: value case
    assert decide(parsed, context={"other": "wallet"}) is Decision.IMPLICIT_DENY
    assert decide(parsed, context={}) is Decision.IMPLICIT_DENY
    # AWS: the context key inside the condition key is not case sensitive
    assert decide(parsed, context={"Purpose": "wallet"}) is Decision.ALLOW


def test_encryption_context_ignore_case_and_any_of() -> None:
    parsed = policy(
        statement(
            condition={"StringEqualsIgnoreCase": {"kms:EncryptionContext:purpose": ["wallet", "vault"]}}
        )
    )
    assert decide(parsed, context={"purpose": "WALLET"}) is Decision.ALLOW
    assert decide(parsed, context={"purpose": "Vault"}) is Decision.ALLOW
    assert decide(parsed, context={"purpose": "other"}) is Decision.IMPLICIT_DENY


def test_missing_context_key_does_not_match_a_deny_either() -> None:
    parsed = policy(
        statement(action="kms:*"),
        statement(effect="Deny", condition={"StringEquals": {"kms:EncryptionContext:stage": "restricted"}}),
    )
    assert decide(parsed, context={}) is Decision.ALLOW
    assert decide(parsed, context={"stage": "test"}) is Decision.ALLOW
    assert decide(parsed, context={"stage": "restricted"}) is Decision.EXPLICIT_DENY


def test_context_keys_differing_only_in_case_fail_closed() -> None:
    ambiguous = {"purpose": "wallet", "PURPOSE": "other"}
    allow = policy(statement(condition={"StringEquals": {"kms:EncryptionContext:purpose": "wallet"}}))
    assert decide(allow, context=ambiguous) is Decision.IMPLICIT_DENY
    deny = policy(
        statement(action="kms:*"),
        statement(effect="Deny", condition={"StringEquals": {"kms:EncryptionContext:purpose": "nothing"}}),
    )
    assert decide(deny, context=ambiguous) is Decision.EXPLICIT_DENY


# --- principals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("anyone", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_star_principal_matches_anyone(anyone: Any) -> None:
    parsed = policy(statement(principal=anyone))
    for caller in (ENCLAVE, OTHER, FOREIGN):
        assert decide(parsed, principal=caller) is Decision.ALLOW


def test_arn_principal_matches_only_that_caller() -> None:
    parsed = policy(statement(principal={"AWS": ENCLAVE}))
    assert decide(parsed, principal=ENCLAVE) is Decision.ALLOW
    assert decide(parsed, principal=OTHER) is Decision.IMPLICIT_DENY
    assert decide(parsed, principal=FOREIGN) is Decision.IMPLICIT_DENY
    assert decide(parsed, principal=f"arn:aws:iam::{ACCOUNT}:role/Enclave") is Decision.IMPLICIT_DENY
    assert decide(parsed, principal=f"arn:aws:iam::{ACCOUNT}:root") is Decision.IMPLICIT_DENY


def test_principal_list_is_any_of() -> None:
    parsed = policy(statement(principal={"AWS": [ENCLAVE, FOREIGN]}))
    assert decide(parsed, principal=ENCLAVE) is Decision.ALLOW
    assert decide(parsed, principal=FOREIGN) is Decision.ALLOW
    assert decide(parsed, principal=OTHER) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("account", [f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT])
def test_account_principal_delegates_to_iam_which_grants_the_account_everything(account: str) -> None:
    parsed = policy(statement(principal={"AWS": account}))
    for caller in (
        ENCLAVE,
        OTHER,
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/enclave/i-0123456789abcdef0",
    ):
        assert decide(parsed, principal=caller) is Decision.ALLOW
    assert decide(parsed, principal=FOREIGN) is Decision.IMPLICIT_DENY
    assert decide(parsed, principal="not-an-arn") is Decision.IMPLICIT_DENY


def test_root_principal_is_bound_to_its_partition() -> None:
    parsed = policy(statement(principal={"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}))
    assert decide(parsed, principal=f"arn:aws-cn:iam::{ACCOUNT}:role/enclave") is Decision.ALLOW
    assert decide(parsed, principal=ENCLAVE) is Decision.IMPLICIT_DENY


# --- malformed policies ---------------------------------------------------------------------------------


def good(**changes: Any) -> dict[str, Any]:
    """A valid one-statement policy with the statement's elements changed (None removes one)."""
    stmt = statement()
    for name, value in changes.items():
        if value is None:
            del stmt[name]
        else:
            stmt[name] = value
    return {"Version": "2012-10-17", "Statement": [stmt]}


def with_condition(condition: Any) -> dict[str, Any]:
    return good(Condition=condition)


MALFORMED: list[tuple[Any, str]] = [
    ("not json", "policy: invalid JSON"),
    ("", "policy: invalid JSON"),
    ([], "policy: must be a JSON object"),
    ({}, "policy.Statement: is required"),
    ({"Statement": []}, "policy.Statement: must be an object or a non-empty list"),
    ({"Statement": "x"}, "policy.Statement: must be an object or a non-empty list"),
    ({"Statement": [5]}, "Statement[0]: must be an object"),
    ({**good(), "Version": "2008-10-17"}, "policy.Version: must be '2012-10-17'"),
    ({**good(), "Id": 5}, "policy.Id: must be a string"),
    ({**good(), "Extra": 1}, "policy.Extra: unknown element"),
    (good(Extra=1), "Statement[0].Extra: unknown element"),
    (good(NotAction="kms:Decrypt"), "Statement[0].NotAction: is not supported"),
    (good(NotPrincipal={"AWS": ENCLAVE}), "Statement[0].NotPrincipal: is not supported"),
    (good(NotResource="*"), "Statement[0].NotResource: is not supported"),
    (good(Sid=5), "Statement[0].Sid: must be a string"),
    (good(Effect=None), "Statement[0].Effect: is required"),
    (good(Effect="allow"), "Statement[0].Effect: must be 'Allow' or 'Deny'"),
    (good(Effect="Permit"), "Statement[0].Effect: must be 'Allow' or 'Deny'"),
    (good(Principal=None), "Statement[0].Principal: is required"),
    (good(Principal="nobody"), 'Statement[0].Principal: must be "*" or {"AWS": ...}'),
    (good(Principal={}), 'Statement[0].Principal: must be "*" or {"AWS": ...}'),
    (
        good(Principal={"Service": "ec2.amazonaws.com"}),
        "Statement[0].Principal.Service: unsupported principal",
    ),
    (good(Principal={"AWS": []}), "Statement[0].Principal.AWS: must be a string or a non-empty list"),
    (good(Principal={"AWS": 111122223333}), "Statement[0].Principal.AWS: must be a string"),
    (good(Principal={"AWS": "bob"}), "Statement[0].Principal.AWS: 'bob' is not '*', an account id"),
    (
        good(Principal={"AWS": "arn:aws:iam::1111:root"}),
        "Statement[0].Principal.AWS: 'arn:aws:iam::1111:root'",
    ),
    (good(Principal={"AWS": "arn:aws:iam::111122223333:group/x"}), "is not '*', an account id"),
    (good(Action=None), "Statement[0].Action: is required"),
    (good(Action=[]), "Statement[0].Action: must be a string or a non-empty list"),
    (good(Action=["kms:Decrypt", 5]), "Statement[0].Action: must be a string or a non-empty list"),
    (good(Action="s3:GetObject"), "Statement[0].Action: 's3:GetObject' is not '*' or a 'kms:' action"),
    (good(Action="kms:Decrypt "), "Statement[0].Action: 'kms:Decrypt ' is not"),
    (good(Action="kms:De.crypt"), "Statement[0].Action: 'kms:De.crypt' is not"),
    (good(Resource=None), "Statement[0].Resource: is required"),
    (
        good(Resource="arn:aws:s3:::bucket"),
        "Statement[0].Resource: 'arn:aws:s3:::bucket': key policies name their key as '*'",
    ),
    (
        good(Resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "key policies name their key as '*'",
    ),
    (with_condition({}), "Statement[0].Condition: must be a non-empty object"),
    (with_condition([]), "Statement[0].Condition: must be a non-empty object"),
    (with_condition({"StringLike": {IMAGE: "a*"}}), "Condition.StringLike: unsupported condition operator"),
    (with_condition({"StringEqualsIfExists": {IMAGE: "0" * 96}}), "StringEqualsIfExists: unsupported"),
    (with_condition({"ForAnyValue:StringEquals": {IMAGE: "0" * 96}}), "unsupported condition operator"),
    (with_condition({"StringNotEquals": {IMAGE: "0" * 96}}), "StringNotEquals: unsupported"),
    (with_condition({"stringequals": {IMAGE: "0" * 96}}), "stringequals: unsupported condition operator"),
    (with_condition({"StringEquals": {}}), "Condition.StringEquals: must be a non-empty object"),
    (with_condition({"StringEquals": "x"}), "Condition.StringEquals: must be a non-empty object"),
    (
        with_condition({"StringEquals": {"aws:SourceIp": "10.0.0.1"}}),
        "aws:SourceIp: unsupported condition key",
    ),
    (with_condition({"StringEquals": {"kms:EncryptionContextKeys": "a"}}), "unsupported condition key"),
    (with_condition({"StringEquals": {"kms:EncryptionContext:": "a"}}), "unsupported condition key"),
    (with_condition({"StringEquals": {"kms:RecipientAttestation:PCR32": "0" * 96}}), "PCR index must be in"),
    (with_condition({"StringEquals": {"kms:RecipientAttestation:PCR08": "0" * 96}}), "unsupported condition"),
    (with_condition({"StringEquals": {"kms:RecipientAttestation:NitroTPMPCR4": "0" * 96}}), "unsupported"),
    (with_condition({"StringEquals": {IMAGE: "0" * 64}}), f"{IMAGE}: '{'0' * 64}' is not 96 hex characters"),
    (with_condition({"StringEquals": {IMAGE: "g" * 96}}), "is not 96 hex characters"),
    (with_condition({"StringEquals": {IMAGE: []}}), "must be a string or a non-empty list"),
    (
        with_condition({"StringEquals": {"kms:EncryptionContext:a": 5}}),
        "must be a string or a non-empty list",
    ),
    (with_condition({"StringEquals": {"kms:EncryptionContext:a": True}}), "must be a string or a non-empty"),
    (
        with_condition({"StringEquals": {IMAGE: "0" * 96, "kms:recipientattestation:imagesha384": "1" * 96}}),
        "duplicate condition key",
    ),
    ({"Statement": [statement() | {"Sid": "A"}, statement() | {"Sid": "A"}]}, "Sid values must be unique"),
    ('{"Statement": [], "Statement": []}', "duplicate member 'Statement'"),
    ('{"Statement": NaN}', "NaN is not valid JSON"),
    ("[" * 10_000 + "]" * 10_000, "policy: JSON nested too deeply"),
    ('{"Statement": "\ud800"}', "policy: is not valid UTF-8 text"),
]


@pytest.mark.parametrize(("document", "message"), MALFORMED)
def test_malformed_policies_are_refused_with_a_precise_message(document: Any, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(MalformedPolicy) as refused:
        parse_policy(text)
    assert message in str(refused.value)


def test_the_good_base_policy_of_the_malformed_cases_is_valid() -> None:
    assert len(parse_policy(json.dumps(good())).statements) == 1


def test_version_is_optional_and_statement_may_be_an_object() -> None:
    parsed = parse_policy(json.dumps({"Statement": statement()}))
    assert decide(parsed) is Decision.ALLOW


# --- size limit -----------------------------------------------------------------------------------------


def padded(size: int, pad_char: str = "x") -> str:
    """A valid policy of exactly `size` UTF-8 bytes (padded through its Id)."""
    base = json.dumps({"Id": "", "Statement": [statement()]}, ensure_ascii=False)
    char_bytes = len(pad_char.encode("utf-8"))
    missing = size - len(base.encode("utf-8"))
    text = json.dumps(
        {"Id": pad_char * (missing // char_bytes) + "x" * (missing % char_bytes), "Statement": [statement()]},
        ensure_ascii=False,
    )
    assert len(text.encode("utf-8")) == size
    return text


def test_policy_of_max_bytes_is_accepted() -> None:
    assert decide(parse_policy(padded(MAX_POLICY_BYTES))) is Decision.ALLOW


def test_policy_one_byte_over_max_is_refused() -> None:
    with pytest.raises(
        MalformedPolicy, match=f"{MAX_POLICY_BYTES + 1} bytes, more than the {MAX_POLICY_BYTES}"
    ):
        parse_policy(padded(MAX_POLICY_BYTES + 1))


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    text = padded(MAX_POLICY_BYTES + 1, pad_char="é")
    assert len(text) <= MAX_POLICY_BYTES
    with pytest.raises(MalformedPolicy, match="more than the"):
        parse_policy(text)

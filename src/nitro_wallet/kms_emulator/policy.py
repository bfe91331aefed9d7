"""KMS key policies for the local KMS emulator: parse (refusing what we cannot evaluate) and evaluate.

The emulator evaluates one key's policy for every operation on that key. It understands a deliberately
small subset of the IAM policy language, the subset nitro-wallet's key policies use, and refuses
everything else with `MalformedPolicy` (an unsupported element silently ignored could grant more than
its author meant):

    policy     {"Version": "2012-10-17" (optional), "Id": str (optional), "Statement": stmt | [stmt, ...]}
    stmt       Sid (optional), Effect "Allow" | "Deny", Principal, Action, Resource, Condition (optional)
    Principal  "*" | {"AWS": str | [str, ...]}; each "*", an IAM ARN (root, user/..., role/...) or an
               account id
    Action     str | [str, ...]: "*" or "kms:<name>", `*` and `?` wildcards, case-insensitive like IAM
    Resource   "*" (a key policy's way of naming its own key); ARNs are refused rather than guessed at
    Condition  {"StringEquals" | "StringEqualsIgnoreCase": {key: str | [str, ...]}}, keys (names are
               case-insensitive, as in IAM):
                 kms:RecipientAttestation:ImageSha384   PCR0 of the request's attestation document
                 kms:RecipientAttestation:PCR<n>        PCR n (0..31), compared as lowercase hex
                 kms:EncryptionContext:<context-key>    the request's encryption context value; the
                                                        context key is matched case-insensitively (AWS)

Evaluation: an explicit Deny wins; otherwise any matching Allow allows; otherwise the request is
implicitly denied. A statement matches when its principal, action and every condition match. Within
an operator block every key must match (AND); a list of values is any-of (OR). A condition on a key the
request does not have (no valid attestation document, no such encryption-context key) does not match,
whatever the effect: an attested Allow never allows an unattested request, and a Deny conditioned on
attestation never denies one either (as in AWS). One case AWS leaves undefined is decided fail-closed:
when the request's encryption context holds several keys that differ only in case, a condition on that
key makes an Allow not match and a Deny match.

Principals and "delegate to IAM": in AWS, naming an account (`arn:aws:iam::<account>:root` or a bare
12-digit account id) in a key policy does not grant the account's principals anything by itself; it lets
IAM policies in that account grant access. The emulator has no IAM: it treats every principal as
granted everything by IAM, so an account principal matches any caller of that account.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nitro_wallet.wire.json_limits import nesting_exceeds

MAX_POLICY_BYTES = 32 * 1024  # AWS's key-policy size quota
MAX_POLICY_DEPTH = 8  # a policy nests five levels: document, Statement list, statement, Condition, operator
POLICY_VERSION = "2012-10-17"
PCR_INDEXES = range(32)
PCR_HEX_CHARS = 96  # a SHA-384 PCR as hex

STRING_EQUALS = "StringEquals"
STRING_EQUALS_IGNORE_CASE = "StringEqualsIgnoreCase"
OPERATORS = (STRING_EQUALS, STRING_EQUALS_IGNORE_CASE)

_POLICY_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
_REQUIRED_STATEMENT_ELEMENTS = ("Effect", "Principal", "Action", "Resource")
_UNSUPPORTED_ELEMENTS = frozenset({"NotAction", "NotPrincipal", "NotResource"})

_ACCOUNT = re.compile(r"[0-9]{12}")
_IAM_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>[0-9]{12}):"
    r"(?P<resource>root|(?:user|role)(?:/[A-Za-z0-9_+=,.@-]+)+)"
)
_CALLER_ARN = re.compile(r"arn:(?P<partition>aws(?:-[a-z]+)*):(?:iam|sts)::(?P<account>[0-9]{12}):.+")
_ACTION = re.compile(r"\*|[kK][mM][sS]:[A-Za-z0-9*?]+")
_IMAGE_SHA384_KEY = re.compile(r"kms:recipientattestation:imagesha384", re.IGNORECASE | re.ASCII)
_PCR_KEY = re.compile(r"kms:recipientattestation:pcr(?P<index>0|[1-9][0-9]?)", re.IGNORECASE | re.ASCII)
_CONTEXT_KEY = re.compile(r"kms:encryptioncontext:(?P<key>.+)", re.IGNORECASE | re.ASCII | re.DOTALL)
_HEX_PCR = re.compile(rf"[0-9a-fA-F]{{{PCR_HEX_CHARS}}}")


class MalformedPolicy(Exception):
    """The policy is not valid JSON, not a key policy, or uses something the emulator does not support.

    The emulator maps it to KMS's MalformedPolicyDocumentException; the message says what is wrong where.
    """


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Condition:
    """One condition key of one operator block, e.g. StringEquals kms:RecipientAttestation:PCR8 [..].

    Exactly one of `pcr_index` (attestation keys; ImageSha384 is PCR0) and `context_key` is set.
    """

    operator: str
    key: str  # as written in the policy
    values: tuple[str, ...]
    pcr_index: int | None = None
    context_key: str | None = None

    def __post_init__(self) -> None:
        if (self.pcr_index is None) == (self.context_key is None):
            raise ValueError("a condition names either a PCR or an encryption-context key")


@dataclass(frozen=True)
class Statement:
    sid: str | None
    effect: Effect
    principals: tuple[str, ...]  # "*", a 12-digit account id or an IAM ARN
    actions: tuple[str, ...]  # "*" or "kms:..." patterns
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class KeyPolicy:
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class RequestContext:
    """What one KMS request asks for, as the emulator established it."""

    action: str  # "kms:Decrypt"
    principal_arn: str  # the authenticated caller
    account_id: str  # the key's account (recorded; the supported conditions do not depend on it)
    attestation_pcrs: Mapping[int, bytes] | None  # PCRs of a VALID attestation document; None if none
    encryption_context: Mapping[str, str]


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


# --- parsing -------------------------------------------------------------------------------------------


def parse_policy(text: str) -> KeyPolicy:
    """Parse a key policy as KMS receives it (JSON text); raise MalformedPolicy on anything else."""
    document = _load_json(text)
    if not isinstance(document, dict):
        raise MalformedPolicy("policy: must be a JSON object")
    _check_elements(document, _POLICY_ELEMENTS, "policy")
    if "Version" in document and document["Version"] != POLICY_VERSION:
        raise MalformedPolicy(f"policy.Version: must be {POLICY_VERSION!r}")
    if "Id" in document and not isinstance(document["Id"], str):
        raise MalformedPolicy("policy.Id: must be a string")
    if "Statement" not in document:
        raise MalformedPolicy("policy.Statement: is required")
    raw = document["Statement"]
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise MalformedPolicy("policy.Statement: must be an object or a non-empty list of objects")
    statements = tuple(_parse_statement(item, f"Statement[{i}]") for i, item in enumerate(items))
    sids = [statement.sid for statement in statements if statement.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("policy.Statement: Sid values must be unique")
    return KeyPolicy(statements)


def _load_json(text: str) -> Any:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise MalformedPolicy("policy: is not valid UTF-8 text") from None
    if size > MAX_POLICY_BYTES:
        raise MalformedPolicy(f"policy: is {size} bytes, more than the {MAX_POLICY_BYTES}-byte limit")
    if nesting_exceeds(text, MAX_POLICY_DEPTH):
        raise MalformedPolicy(f"policy: JSON nested too deeply (more than {MAX_POLICY_DEPTH} levels)")
    try:
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except ValueError as exc:  # json.JSONDecodeError and our hooks' errors
        raise MalformedPolicy(f"policy: invalid JSON: {exc}") from None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"duplicate member {name!r}")
        members[name] = value
    return members


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_elements(obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for name in obj:
        if name in _UNSUPPORTED_ELEMENTS:
            raise MalformedPolicy(f"{where}.{name}: is not supported by the emulator")
        if name not in allowed:
            raise MalformedPolicy(f"{where}.{name}: unknown element")


def _parse_statement(item: Any, where: str) -> Statement:
    if not isinstance(item, dict):
        raise MalformedPolicy(f"{where}: must be an object")
    _check_elements(item, _STATEMENT_ELEMENTS, where)
    for name in _REQUIRED_STATEMENT_ELEMENTS:
        if name not in item:
            raise MalformedPolicy(f"{where}.{name}: is required")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy(f"{where}.Sid: must be a string")
    effects = {effect.value: effect for effect in Effect}
    if item["Effect"] not in effects:
        raise MalformedPolicy(f"{where}.Effect: must be 'Allow' or 'Deny'")
    actions = _strings(item["Action"], f"{where}.Action")
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise MalformedPolicy(f"{where}.Action: {action!r} is not '*' or a 'kms:' action")
    return Statement(
        sid=sid,
        effect=effects[item["Effect"]],
        principals=_parse_principal(item["Principal"], f"{where}.Principal"),
        actions=actions,
        resources=_parse_resource(item["Resource"], f"{where}.Resource"),
        conditions=_parse_condition(item["Condition"], f"{where}.Condition") if "Condition" in item else (),
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(entry, str) for entry in value):
        return tuple(value)
    raise MalformedPolicy(f"{where}: must be a string or a non-empty list of strings")


def _parse_principal(value: Any, where: str) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy(f'{where}: must be "*" or {{"AWS": ...}}')
    for name in value:
        if name != "AWS":
            raise MalformedPolicy(f"{where}.{name}: unsupported principal type (only AWS is supported)")
    principals = _strings(value["AWS"], f"{where}.AWS")
    for principal in principals:
        if principal != "*" and not _ACCOUNT.fullmatch(principal) and not _IAM_ARN.fullmatch(principal):
            raise MalformedPolicy(
                f"{where}.AWS: {principal!r} is not '*', an account id or an IAM root/user/role ARN"
            )
    return principals


def _parse_resource(value: Any, where: str) -> tuple[str, ...]:
    resources = _strings(value, where)
    for resource in resources:
        if resource != "*":
            raise MalformedPolicy(
                f"{where}: {resource!r}: key policies name their key as '*'; the emulator refuses ARNs "
                "rather than risk matching a policy AWS would read differently"
            )
    return resources


def _parse_condition(value: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy(f"{where}: must be a non-empty object of operator blocks")
    conditions: list[Condition] = []
    for operator, block in value.items():
        if operator not in OPERATORS:
            raise MalformedPolicy(
                f"{where}.{operator}: unsupported condition operator (supported: {', '.join(OPERATORS)})"
            )
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy(f"{where}.{operator}: must be a non-empty object of condition keys")
        seen: set[str] = set()
        for key, values in block.items():
            if key.lower() in seen:
                raise MalformedPolicy(
                    f"{where}.{operator}.{key}: duplicate condition key (names ignore case)"
                )
            seen.add(key.lower())
            conditions.append(_parse_condition_key(operator, key, values, f"{where}.{operator}.{key}"))
    return tuple(conditions)


def _parse_condition_key(operator: str, key: str, raw_values: Any, where: str) -> Condition:
    values = _strings(raw_values, where)
    pcr = _PCR_KEY.fullmatch(key)
    if pcr and int(pcr["index"]) not in PCR_INDEXES:
        raise MalformedPolicy(f"{where}: PCR index must be in 0..{PCR_INDEXES[-1]}")
    if pcr or _IMAGE_SHA384_KEY.fullmatch(key):
        for value in values:
            if not _HEX_PCR.fullmatch(value):
                raise MalformedPolicy(f"{where}: {value!r} is not {PCR_HEX_CHARS} hex characters")
        return Condition(operator, key, values, pcr_index=int(pcr["index"]) if pcr else 0)
    context = _CONTEXT_KEY.fullmatch(key)
    if context:
        return Condition(operator, key, values, context_key=context["key"])
    raise MalformedPolicy(
        f"{where}: unsupported condition key (supported: kms:RecipientAttestation:ImageSha384, "
        "kms:RecipientAttestation:PCR<0..31>, kms:EncryptionContext:<key>)"
    )


# --- evaluation ----------------------------------------------------------------------------------------


def evaluate(policy: KeyPolicy, request: RequestContext) -> Decision:
    """Explicit Deny wins; otherwise any matching Allow allows; otherwise an implicit deny."""
    allowed = False
    for statement in policy.statements:
        if not _statement_matches(statement, request):
            continue
        if statement.effect is Effect.DENY:
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statement_matches(statement: Statement, request: RequestContext) -> bool:
    if not any(_principal_matches(principal, request.principal_arn) for principal in statement.principals):
        return False
    if not any(_action_pattern(action).fullmatch(request.action) for action in statement.actions):
        return False
    for condition in statement.conditions:
        present = _request_values(condition, request)
        if not present:
            return False  # a missing key never matches, Allow or Deny
        if len(present) > 1:  # ambiguous encryption-context key: fail closed
            if statement.effect is Effect.ALLOW:
                return False
            continue
        if not any(_string_matches(condition.operator, present[0], value) for value in condition.values):
            return False
    return True


def _principal_matches(principal: str, caller: str) -> bool:
    if principal == "*":
        return True
    caller_arn = _CALLER_ARN.fullmatch(caller)
    if _ACCOUNT.fullmatch(principal):
        return caller_arn is not None and caller_arn["account"] == principal
    named = _IAM_ARN.fullmatch(principal)
    if named is not None and named["resource"] == "root":
        return (
            caller_arn is not None
            and caller_arn["account"] == named["account"]
            and caller_arn["partition"] == named["partition"]
        )
    return principal == caller


@functools.lru_cache(maxsize=1024)
def _action_pattern(action: str) -> re.Pattern[str]:
    wildcards = {"*": ".*", "?": "."}
    return re.compile(
        "".join(wildcards.get(char, re.escape(char)) for char in action), re.IGNORECASE | re.ASCII
    )


def _request_values(condition: Condition, request: RequestContext) -> tuple[str, ...]:
    """The request's values for a condition key: none (missing), one, or several (ambiguous)."""
    if condition.pcr_index is not None:
        pcrs = request.attestation_pcrs
        if pcrs is None or condition.pcr_index not in pcrs:
            return ()
        return (pcrs[condition.pcr_index].hex(),)
    if condition.context_key is not None:
        wanted = condition.context_key.lower()
        return tuple(value for key, value in request.encryption_context.items() if key.lower() == wanted)
    return ()


def _string_matches(operator: str, actual: str, expected: str) -> bool:
    if operator == STRING_EQUALS_IGNORE_CASE:
        return actual.lower() == expected.lower()
    return actual == expected

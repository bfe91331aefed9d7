"""The KMS emulator through its real process (`nitro-wallet kms serve`) and unmodified boto3: key lifecycle,
cryptographic operations, SigV4 authentication, the AWS JSON protocol's error answers, key policies and
persistence across restarts. Errors are asserted as boto3 reports them (`ClientError` codes), so each
test also checks that the emulator speaks the protocol boto3 expects.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from nitro_wallet.host import key_policy
from nitro_wallet.kms_emulator import principals, server
from nitro_wallet.kms_emulator.ciphertext import MAX_PLAINTEXT_BYTES, read_header
from support import processes

REGION = "us-east-1"
ACCOUNT = principals.LOCAL_ACCOUNT
PCR0 = bytes.fromhex("ab" * 48)
CONTEXT = {"purpose": "wallet", "tenant": "t-1"}
ALIAS_THREADS = 16


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kms-service")


@pytest.fixture(scope="module")
def url(state_dir: Path) -> Iterator[str]:
    with processes.kms_emulator(state_dir) as running:
        yield running


@pytest.fixture(scope="module")
def admin(state_dir: Path, url: str) -> Any:
    return processes.kms_client(state_dir, url)


@pytest.fixture(scope="module")
def generator(state_dir: Path, url: str) -> Any:
    return processes.kms_client(state_dir, url, "generator")


@pytest.fixture(scope="module")
def enclave(state_dir: Path, url: str) -> Any:
    return processes.kms_client(state_dir, url, "enclave")


def client(url: str, access_key_id: str, secret_access_key: str, *, region: str = REGION) -> Any:
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )


def refused(operation: Callable[..., object], **params: Any) -> str:
    """The KMS error code `operation(**params)` fails with (the test fails if it succeeds)."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    code: str = raised.value.response["Error"]["Code"]
    return code


def new_key(kms: Any, policy: dict[str, Any] | None = None, **extra: Any) -> str:
    if policy is not None:
        extra["Policy"] = json.dumps(policy)
    key_id: str = kms.create_key(**extra)["KeyMetadata"]["KeyId"]
    return key_id


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def unique_alias() -> str:
    return f"alias/test-{uuid.uuid4().hex[:12]}"


def statement(effect: str, principal: str, actions: list[str] | str) -> dict[str, Any]:
    return {"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"}


def policy_of(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = principals.PROFILES["default"]
GENERATOR = principals.PROFILES["generator"]


# --- key lifecycle ----------------------------------------------------------------------------------


def test_create_key_gives_metadata_and_the_default_policy(admin: Any) -> None:
    metadata = admin.create_key(Description="lifecycle")["KeyMetadata"]
    assert metadata["Arn"] == key_arn(metadata["KeyId"])
    assert metadata["AWSAccountId"] == ACCOUNT
    assert (metadata["Enabled"], metadata["KeyState"]) == (True, "Enabled")
    assert (metadata["Description"], metadata["KeySpec"]) == ("lifecycle", "SYMMETRIC_DEFAULT")
    policy = json.loads(admin.get_key_policy(KeyId=metadata["KeyId"])["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]


def test_describe_key_by_key_id_key_arn_alias_name_and_alias_arn(admin: Any) -> None:
    key_id = new_key(admin)
    alias = unique_alias()
    admin.create_alias(AliasName=alias, TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    for ref in (key_id, key_arn(key_id), alias, alias_arn):
        assert admin.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id, ref


@pytest.mark.parametrize(
    "ref",
    [
        str(uuid.UUID(int=1)),
        key_arn(str(uuid.UUID(int=2))),
        "alias/no-such-alias",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/no-such-alias",
        "not-a-key-id",
    ],
)
def test_unknown_keys_are_not_found(admin: Any, ref: str) -> None:
    assert refused(admin.describe_key, KeyId=ref) == "NotFoundException"
    assert refused(admin.encrypt, KeyId=ref, Plaintext=b"x") == "NotFoundException"


def test_a_key_arn_of_another_region_is_not_this_services_key(admin: Any) -> None:
    key_id = new_key(admin)
    elsewhere = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}"
    assert refused(admin.describe_key, KeyId=elsewhere) == "NotFoundException"


def test_key_slash_id_is_only_a_key_id_inside_an_arn(admin: Any) -> None:
    key_id = new_key(admin)
    assert admin.describe_key(KeyId=key_arn(key_id))["KeyMetadata"]["KeyId"] == key_id
    assert refused(admin.describe_key, KeyId=f"key/{key_id}") == "NotFoundException"
    bare_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{key_id}"
    assert refused(admin.describe_key, KeyId=bare_arn) == "NotFoundException"


def test_list_keys_pages_one_at_a_time_with_the_marker(admin: Any) -> None:
    created = {new_key(admin) for _ in range(3)}
    pages: list[dict[str, Any]] = []
    marker: dict[str, str] = {}
    while True:
        page = admin.list_keys(Limit=1, **marker)
        pages.append(page)
        if not page["Truncated"]:
            break
        marker = {"Marker": page["NextMarker"]}
    assert all(len(page["Keys"]) == 1 for page in pages)
    assert "NextMarker" not in pages[-1]
    paged = [page["Keys"][0] for page in pages]
    everything = admin.list_keys(Limit=1000)
    assert not everything["Truncated"]
    assert paged == everything["Keys"]
    assert created <= {entry["KeyId"] for entry in paged}
    assert all(entry["KeyArn"] == key_arn(entry["KeyId"]) for entry in paged)


@pytest.mark.parametrize(
    "marker",
    ["abc", "-1", "1.0", "\u00b2", "\u0661"],
    ids=["letters", "negative", "decimal", "superscript two", "arabic-indic one"],  # both isdigit()
)
def test_a_marker_that_is_not_one_of_ours_is_invalid(admin: Any, marker: str) -> None:
    for operation in (admin.list_keys, admin.list_aliases):
        assert refused(operation, Marker=marker) == "InvalidMarkerException"


def test_list_aliases_with_and_without_a_key_filter(admin: Any) -> None:
    first, second = new_key(admin), new_key(admin)
    names = {first: {unique_alias(), unique_alias()}, second: {unique_alias()}}
    for key_id, aliases in names.items():
        for alias in aliases:
            admin.create_alias(AliasName=alias, TargetKeyId=key_id)

    filtered = admin.list_aliases(KeyId=first)["Aliases"]
    assert {entry["AliasName"] for entry in filtered} == names[first]
    assert all(entry["TargetKeyId"] == first for entry in filtered)
    assert all(
        entry["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:{entry['AliasName']}" for entry in filtered
    )
    listed = {entry["AliasName"]: entry["TargetKeyId"] for entry in admin.list_aliases(Limit=1000)["Aliases"]}
    for key_id, aliases in names.items():
        assert all(listed[alias] == key_id for alias in aliases)


def test_a_duplicate_alias_is_refused_and_keeps_its_target(admin: Any) -> None:
    first, second = new_key(admin), new_key(admin)
    alias = unique_alias()
    admin.create_alias(AliasName=alias, TargetKeyId=first)
    assert refused(admin.create_alias, AliasName=alias, TargetKeyId=second) == "AlreadyExistsException"
    assert admin.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == first


def test_concurrent_creation_of_one_alias_has_exactly_one_winner(admin: Any) -> None:
    keys = [new_key(admin) for _ in range(2)]
    alias = unique_alias()
    start = threading.Barrier(ALIAS_THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        start.wait()
        try:
            admin.create_alias(AliasName=alias, TargetKeyId=keys[index % 2])
            outcome = f"created:{keys[index % 2]}"
        except ClientError as exc:
            outcome = exc.response["Error"]["Code"]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(ALIAS_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [outcome for outcome in outcomes if outcome.startswith("created:")]
    assert len(winners) == 1
    assert outcomes.count("AlreadyExistsException") == ALIAS_THREADS - 1
    assert f"created:{admin.describe_key(KeyId=alias)['KeyMetadata']['KeyId']}" == winners[0]


@pytest.mark.parametrize(
    "name",
    ["alias/aws/mine", "alias/aws/", "my-alias", "alias/", "alias/has space", "alias/" + "a" * 251],
)
def test_invalid_alias_names_are_validation_errors(admin: Any, name: str) -> None:
    key_id = new_key(admin)
    assert refused(admin.create_alias, AliasName=name, TargetKeyId=key_id) == "ValidationException"
    assert admin.list_aliases(KeyId=key_id)["Aliases"] == []


def test_longest_valid_alias_name_is_accepted(admin: Any) -> None:
    key_id = new_key(admin)
    name = "alias/" + uuid.uuid4().hex + "a" * (250 - 32)
    admin.create_alias(AliasName=name, TargetKeyId=key_id)
    assert admin.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id


def test_a_disabled_key_refuses_cryptography_until_enabled(admin: Any) -> None:
    key_id = new_key(admin)
    blob = admin.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    admin.disable_key(KeyId=key_id)
    metadata = admin.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["Enabled"], metadata["KeyState"]) == (False, "Disabled")
    assert refused(admin.encrypt, KeyId=key_id, Plaintext=b"x") == "DisabledException"
    assert refused(admin.decrypt, CiphertextBlob=blob) == "DisabledException"
    assert refused(admin.generate_data_key, KeyId=key_id, KeySpec="AES_256") == "DisabledException"
    admin.enable_key(KeyId=key_id)
    assert admin.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert admin.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_put_key_policy_then_get_key_policy_returns_it_verbatim(admin: Any) -> None:
    key_id = new_key(admin)
    text = json.dumps(
        policy_of(
            {**statement("Allow", ROOT, "kms:*"), "Sid": "Root"},
            {**statement("Allow", GENERATOR, ["kms:Encrypt"]), "Sid": "Generator"},
        ),
        indent=3,
    )
    admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=text)
    answer = admin.get_key_policy(KeyId=key_id, PolicyName="default")
    assert (answer["Policy"], answer["PolicyName"]) == (text, "default")
    assert refused(admin.get_key_policy, KeyId=key_id, PolicyName="other") == "NotFoundException"


MALFORMED_POLICIES = {
    "not JSON": "{not json",
    "empty statement list": json.dumps({"Statement": []}),
    "unknown effect": json.dumps(policy_of(statement("Permit", ROOT, "kms:*"))),
    "NotAction": json.dumps(
        policy_of({"Effect": "Allow", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"})
    ),
    "unsupported operator": json.dumps(
        policy_of({**statement("Allow", ROOT, "kms:*"), "Condition": {"StringLike": {"kms:X": "y"}}})
    ),
    "a JSON array": json.dumps([statement("Allow", ROOT, "kms:*")]),
}


@pytest.mark.parametrize("text", MALFORMED_POLICIES.values(), ids=MALFORMED_POLICIES.keys())
def test_a_malformed_policy_is_refused_and_changes_nothing(admin: Any, text: str) -> None:
    key_id = new_key(admin)
    before = admin.get_key_policy(KeyId=key_id)["Policy"]
    put = refused(admin.put_key_policy, KeyId=key_id, PolicyName="default", Policy=text)
    assert put == "MalformedPolicyDocumentException"
    assert admin.get_key_policy(KeyId=key_id)["Policy"] == before
    assert refused(admin.create_key, Policy=text) == "MalformedPolicyDocumentException"


def test_the_lockout_safety_check_refuses_a_policy_the_caller_could_not_change(admin: Any) -> None:
    key_id = new_key(admin)
    before = admin.get_key_policy(KeyId=key_id)["Policy"]
    locking = json.dumps(policy_of(statement("Allow", GENERATOR, "kms:*")))
    put = refused(admin.put_key_policy, KeyId=key_id, PolicyName="default", Policy=locking)
    assert put == "MalformedPolicyDocumentException"
    assert admin.get_key_policy(KeyId=key_id)["Policy"] == before
    assert refused(admin.create_key, Policy=locking) == "MalformedPolicyDocumentException"

    admin.put_key_policy(
        KeyId=key_id, PolicyName="default", Policy=locking, BypassPolicyLockoutSafetyCheck=True
    )
    # the check was right: the administrator has locked itself out
    assert refused(admin.get_key_policy, KeyId=key_id) == "AccessDeniedException"


def test_a_policy_that_keeps_put_key_policy_passes_the_safety_check(admin: Any) -> None:
    key_id = new_key(admin)
    keeps = json.dumps(policy_of(statement("Allow", ADMIN, ["kms:PutKeyPolicy", "kms:GetKeyPolicy"])))
    admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=keeps)
    assert admin.get_key_policy(KeyId=key_id)["Policy"] == keeps


# --- cryptographic operations -----------------------------------------------------------------------


def test_encrypt_then_decrypt_with_the_encryption_context(admin: Any) -> None:
    key_id = new_key(admin)
    answer = admin.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=CONTEXT)
    assert (answer["KeyId"], answer["EncryptionAlgorithm"]) == (key_arn(key_id), "SYMMETRIC_DEFAULT")
    assert b"secret" not in answer["CiphertextBlob"]
    opened = admin.decrypt(CiphertextBlob=answer["CiphertextBlob"], EncryptionContext=dict(CONTEXT))
    assert (opened["Plaintext"], opened["KeyId"]) == (b"secret", key_arn(key_id))


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"purpose": "wallet"},
        {"purpose": "wallet", "tenant": "t-2"},
        {**CONTEXT, "extra": "x"},
        {"Purpose": "wallet", "tenant": "t-1"},
    ],
    ids=["missing", "partial", "other value", "extra pair", "key case"],
)
def test_decrypt_needs_exactly_the_encryption_context(admin: Any, context: dict[str, str]) -> None:
    key_id = new_key(admin)
    blob = admin.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert (
        refused(admin.decrypt, CiphertextBlob=blob, EncryptionContext=context) == "InvalidCiphertextException"
    )


def test_a_blob_sealed_without_context_refuses_one(admin: Any) -> None:
    key_id = new_key(admin)
    blob = admin.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert refused(admin.decrypt, CiphertextBlob=blob, EncryptionContext=CONTEXT) == (
        "InvalidCiphertextException"
    )
    assert admin.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_a_flipped_byte_anywhere_in_the_blob_is_invalid_ciphertext(admin: Any) -> None:
    key_id = new_key(admin)
    blob = admin.encrypt(KeyId=key_id, Plaintext=b"eight by", EncryptionContext=CONTEXT)["CiphertextBlob"]
    for position in range(len(blob)):
        for mask in (0x01, 0x80):
            damaged = bytearray(blob)
            damaged[position] ^= mask
            code = refused(admin.decrypt, CiphertextBlob=bytes(damaged), EncryptionContext=CONTEXT)
            assert code == "InvalidCiphertextException", (position, mask)
    assert refused(admin.decrypt, CiphertextBlob=blob[:-1], EncryptionContext=CONTEXT) == (
        "InvalidCiphertextException"
    )
    assert admin.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"eight by"


def test_decrypt_with_another_key_id_is_incorrect_key(admin: Any) -> None:
    key_id, other = new_key(admin), new_key(admin)
    alias = unique_alias()
    admin.create_alias(AliasName=alias, TargetKeyId=key_id)
    blob = admin.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    for wrong in (other, key_arn(other)):
        assert refused(admin.decrypt, CiphertextBlob=blob, KeyId=wrong) == "IncorrectKeyException"
    for right in (key_id, key_arn(key_id), alias):
        assert admin.decrypt(CiphertextBlob=blob, KeyId=right)["Plaintext"] == b"secret"


def test_plaintext_is_bounded_at_4096_bytes(admin: Any) -> None:
    key_id = new_key(admin)
    largest = bytes(range(256)) * (MAX_PLAINTEXT_BYTES // 256)
    assert len(largest) == MAX_PLAINTEXT_BYTES == 4096
    blob = admin.encrypt(KeyId=key_id, Plaintext=largest)["CiphertextBlob"]
    assert admin.decrypt(CiphertextBlob=blob)["Plaintext"] == largest
    assert refused(admin.encrypt, KeyId=key_id, Plaintext=largest + b"!") == "ValidationException"


@pytest.mark.parametrize(("spec", "length"), [("AES_256", 32), ("AES_128", 16)])
def test_generate_data_key_by_key_spec(admin: Any, spec: str, length: int) -> None:
    key_id = new_key(admin)
    answer = admin.generate_data_key(KeyId=key_id, KeySpec=spec, EncryptionContext=CONTEXT)
    assert len(answer["Plaintext"]) == length
    assert answer["KeyId"] == key_arn(key_id)
    opened = admin.decrypt(CiphertextBlob=answer["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert opened["Plaintext"] == answer["Plaintext"]


@pytest.mark.parametrize("count", [1, 2, 512, 1024])
def test_generate_data_key_by_number_of_bytes(admin: Any, count: int) -> None:
    key_id = new_key(admin)
    answer = admin.generate_data_key(KeyId=key_id, NumberOfBytes=count)
    assert len(answer["Plaintext"]) == count
    assert admin.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"] == answer["Plaintext"]


def test_data_key_length_must_be_given_once_and_within_bounds(admin: Any) -> None:
    key_id = new_key(admin)
    for arguments in ({"NumberOfBytes": 1025}, {"KeySpec": "AES_256", "NumberOfBytes": 32}, {}):
        for operation in (admin.generate_data_key, admin.generate_data_key_without_plaintext):
            assert refused(operation, KeyId=key_id, **arguments) == "ValidationException", arguments


@pytest.mark.parametrize(("arguments", "length"), [({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 7}, 7)])
def test_generate_data_key_without_plaintext(admin: Any, arguments: dict[str, Any], length: int) -> None:
    key_id = new_key(admin)
    answer = admin.generate_data_key_without_plaintext(KeyId=key_id, EncryptionContext=CONTEXT, **arguments)
    assert "Plaintext" not in answer
    assert answer["KeyId"] == key_arn(key_id)
    opened = admin.decrypt(CiphertextBlob=answer["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert len(opened["Plaintext"]) == length


def test_generate_random_lengths(admin: Any) -> None:
    for count in (1, 32, 1024):
        assert len(admin.generate_random(NumberOfBytes=count)["Plaintext"]) == count
    assert (
        admin.generate_random(NumberOfBytes=32)["Plaintext"]
        != admin.generate_random(NumberOfBytes=32)["Plaintext"]
    )
    assert refused(admin.generate_random, NumberOfBytes=1025) == "ValidationException"
    assert refused(admin.generate_random) == "ValidationException"


def test_re_encrypt_moves_a_blob_to_another_key_and_context(admin: Any) -> None:
    source, destination = new_key(admin), new_key(admin)
    blob = admin.encrypt(KeyId=source, Plaintext=b"moving", EncryptionContext=CONTEXT)["CiphertextBlob"]
    target_context = {"purpose": "archive"}
    answer = admin.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=destination,
        DestinationEncryptionContext=target_context,
    )
    assert (answer["SourceKeyId"], answer["KeyId"]) == (key_arn(source), key_arn(destination))
    moved = answer["CiphertextBlob"]
    assert read_header(moved).key_id == destination
    opened = admin.decrypt(CiphertextBlob=moved, EncryptionContext=target_context)
    assert opened["Plaintext"] == b"moving"
    assert opened["KeyId"] == key_arn(destination)
    assert refused(admin.decrypt, CiphertextBlob=moved, EncryptionContext=CONTEXT) == (
        "InvalidCiphertextException"
    )
    wrong_source = refused(
        admin.re_encrypt, CiphertextBlob=blob, DestinationKeyId=destination, SourceEncryptionContext={}
    )
    assert wrong_source == "InvalidCiphertextException"


def test_rotate_key_on_demand_keeps_old_blobs_and_seals_new_ones_with_the_new_version(admin: Any) -> None:
    key_id = new_key(admin)
    old = admin.encrypt(KeyId=key_id, Plaintext=b"old", EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert admin.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    new = admin.encrypt(KeyId=key_id, Plaintext=b"new", EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert (read_header(old).key_id, read_header(old).key_version) == (key_id, 1)
    assert (read_header(new).key_id, read_header(new).key_version) == (key_id, 2)
    assert admin.decrypt(CiphertextBlob=old, EncryptionContext=CONTEXT)["Plaintext"] == b"old"
    assert admin.decrypt(CiphertextBlob=new, EncryptionContext=CONTEXT)["Plaintext"] == b"new"


def test_rotation_status_follows_enable_and_disable(admin: Any) -> None:
    key_id = new_key(admin)
    assert admin.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    admin.enable_key_rotation(KeyId=key_id)
    assert admin.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    admin.disable_key_rotation(KeyId=key_id)
    assert admin.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


# --- authentication and the protocol ----------------------------------------------------------------


def test_a_wrong_secret_is_an_invalid_signature(state_dir: Path, url: str) -> None:
    keys = processes.profile(state_dir, "default")
    forged = client(url, keys["access_key_id"], keys["secret_access_key"] + "x")
    assert refused(forged.list_keys) == "InvalidSignatureException"


def test_an_unknown_access_key_is_an_unrecognized_client(state_dir: Path, url: str) -> None:
    keys = processes.profile(state_dir, "default")
    stranger = client(url, "AKIA" + "0" * 16, keys["secret_access_key"])
    assert refused(stranger.list_keys) == "UnrecognizedClientException"


def test_a_signature_scoped_to_another_region_is_invalid(state_dir: Path, url: str) -> None:
    keys = processes.profile(state_dir, "default")
    elsewhere = client(url, keys["access_key_id"], keys["secret_access_key"], region="eu-west-1")
    assert refused(elsewhere.list_keys) == "InvalidSignatureException"
    right_region = client(url, keys["access_key_id"], keys["secret_access_key"])
    assert "Keys" in right_region.list_keys()


def test_an_unsigned_request_is_missing_authentication(url: str) -> None:
    response = httpx.post(
        url,
        content=b"{}",
        headers={"Content-Type": server.CONTENT_TYPE, "X-Amz-Target": "TrentService.ListKeys"},
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "MissingAuthenticationTokenException"
    assert response.headers["x-amzn-RequestId"]


def signed(state_dir: Path, url: str, body: bytes, target: str | None) -> httpx.Response:
    """POST `body` signed by botocore's own SigV4 signer as the admin, sent with httpx."""
    keys = processes.profile(state_dir, "default")
    headers = {"Content-Type": server.CONTENT_TYPE}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=f"{url}/", data=body, headers=headers)
    credentials = Credentials(keys["access_key_id"], keys["secret_access_key"])
    SigV4Auth(credentials, "kms", REGION).add_auth(request)
    return httpx.post(f"{url}/", content=body, headers=dict(request.headers.items()))


def test_a_signed_request_built_outside_boto3_is_served(state_dir: Path, url: str) -> None:
    response = signed(state_dir, url, b'{"NumberOfBytes": 8}', "TrentService.GenerateRandom")
    assert response.status_code == 200, response.text
    assert len(base64.b64decode(response.json()["Plaintext"])) == 8
    assert response.headers["content-type"] == server.CONTENT_TYPE


@pytest.mark.parametrize(
    ("body", "target", "code"),
    [
        (b"not json", "TrentService.ListKeys", "SerializationException"),
        (b"\xff\xfe{}", "TrentService.ListKeys", "SerializationException"),
        (b"[]", "TrentService.ListKeys", "SerializationException"),
        (b'"text"', "TrentService.ListKeys", "SerializationException"),
        (b"{}", "TrentService.NoSuchOperation", "UnknownOperationException"),
        (b"{}", "OtherService.ListKeys", "UnknownOperationException"),
        (b"{}", None, "UnknownOperationException"),
        (b'{"NumberOfBytes": "8"}', "TrentService.GenerateRandom", "SerializationException"),
    ],
    ids=[
        "not JSON",
        "not UTF-8",
        "JSON array",
        "JSON string",
        "unknown operation",
        "another service",
        "no target",
        "string for integer",
    ],
)
def test_signed_but_bad_requests(
    state_dir: Path, url: str, body: bytes, target: str | None, code: str
) -> None:
    response = signed(state_dir, url, body, target)
    assert response.status_code == 400
    assert response.json()["__type"] == code
    assert response.headers["x-amzn-RequestId"]


def test_a_body_of_max_bytes_is_read(state_dir: Path, url: str) -> None:
    prefix = b'{"NumberOfBytes": 4, "Padding": "'
    body = prefix + b"p" * (server.MAX_BODY_BYTES - len(prefix) - 2) + b'"}'
    assert len(body) == server.MAX_BODY_BYTES
    response = signed(state_dir, url, body, "TrentService.GenerateRandom")
    assert response.status_code == 200, response.text


def test_a_declared_body_over_max_bytes_is_refused_before_it_is_sent(url: str) -> None:
    """Only the headers and one byte are sent: an answer proves the server did not wait for the rest."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {server.CONTENT_TYPE}\r\n"
        f"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: {server.MAX_BODY_BYTES + 1}\r\n\r\n{{"
    )
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            assert chunk, "connection closed without an answer"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"x-amzn-requestid: " in answer.lower()


def test_a_streamed_body_over_max_bytes_is_refused(url: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(server.MAX_BODY_BYTES // 4096):
            yield b" " * 4096
        yield b" " * (server.MAX_BODY_BYTES % 4096 + 1)

    headers = {"Content-Type": server.CONTENT_TYPE, "X-Amz-Target": "TrentService.ListKeys"}
    response = httpx.post(url, content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["__type"] == "ValidationException"


def test_every_answer_carries_its_own_request_id(admin: Any) -> None:
    ok = admin.list_keys(Limit=1)["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as raised:
        admin.describe_key(KeyId="alias/no-such-alias")
    failed = raised.value.response["ResponseMetadata"]["RequestId"]
    assert str(uuid.UUID(ok)) == ok
    assert str(uuid.UUID(failed)) == failed
    assert ok != failed


# --- key policies through the service ---------------------------------------------------------------


@pytest.fixture(scope="module")
def attested_key(admin: Any) -> str:
    return new_key(admin, key_policy.key_policy(pcr0=PCR0.hex()))


def test_the_administrator_manages_an_attested_key_but_never_uses_it(admin: Any, attested_key: str) -> None:
    assert admin.describe_key(KeyId=attested_key)["KeyMetadata"]["KeyId"] == attested_key
    assert json.loads(admin.get_key_policy(KeyId=attested_key)["Policy"]) == key_policy.key_policy(
        pcr0=PCR0.hex()
    )
    assert admin.get_key_rotation_status(KeyId=attested_key)["KeyRotationEnabled"] is False
    assert refused(admin.encrypt, KeyId=attested_key, Plaintext=b"x") == "AccessDeniedException"
    for operation in (admin.generate_data_key, admin.generate_data_key_without_plaintext):
        assert refused(operation, KeyId=attested_key, KeySpec="AES_256") == "AccessDeniedException"


def test_the_generator_encrypts_but_never_decrypts(admin: Any, generator: Any, attested_key: str) -> None:
    blob = generator.encrypt(KeyId=attested_key, Plaintext=b"wrapped", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    assert read_header(blob).key_id == attested_key
    wrapped = generator.generate_data_key_without_plaintext(KeyId=attested_key, KeySpec="AES_256")
    assert "Plaintext" not in wrapped
    for kms in (generator, admin):
        assert refused(kms.decrypt, CiphertextBlob=blob, EncryptionContext=CONTEXT) == (
            "AccessDeniedException"
        )
    assert refused(generator.generate_data_key, KeyId=attested_key, KeySpec="AES_256") == (
        "AccessDeniedException"
    )
    put = refused(generator.put_key_policy, KeyId=attested_key, PolicyName="default", Policy="{}")
    assert put == "AccessDeniedException"


def test_the_enclave_role_cannot_decrypt_without_a_recipient(
    generator: Any, enclave: Any, attested_key: str
) -> None:
    blob = generator.encrypt(KeyId=attested_key, Plaintext=b"wrapped")["CiphertextBlob"]
    assert enclave.describe_key(KeyId=attested_key)["KeyMetadata"]["KeyId"] == attested_key
    assert refused(enclave.decrypt, CiphertextBlob=blob) == "AccessDeniedException"
    assert (
        refused(enclave.generate_data_key, KeyId=attested_key, KeySpec="AES_256") == "AccessDeniedException"
    )
    assert refused(enclave.encrypt, KeyId=attested_key, Plaintext=b"x") == "AccessDeniedException"


def test_an_explicit_deny_wins_over_any_allow(admin: Any, generator: Any) -> None:
    key_id = new_key(admin)
    admin.put_key_policy(
        KeyId=key_id,
        PolicyName="default",
        Policy=json.dumps(
            policy_of(
                statement("Allow", ROOT, "kms:*"),
                statement("Allow", ADMIN, ["kms:Encrypt"]),
                statement("Deny", ADMIN, ["kms:Encrypt", "kms:GenerateDataKey*"]),
            )
        ),
    )
    assert refused(admin.encrypt, KeyId=key_id, Plaintext=b"x") == "AccessDeniedException"
    assert refused(admin.generate_data_key, KeyId=key_id, KeySpec="AES_256") == "AccessDeniedException"
    blob = generator.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]  # control: others are allowed
    assert admin.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # and the deny is only what it names


# --- persistence ------------------------------------------------------------------------------------


def test_state_survives_a_restart_of_the_process(tmp_path: Path) -> None:
    with processes.kms_emulator(tmp_path) as url:
        admin = processes.kms_client(tmp_path, url)
        key_id = new_key(admin, Description="persistent")
        alias = unique_alias()
        admin.create_alias(AliasName=alias, TargetKeyId=key_id)
        policy = json.dumps(policy_of({**statement("Allow", ROOT, "kms:*"), "Sid": "Kept"}))
        admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
        blob = admin.encrypt(KeyId=key_id, Plaintext=b"durable", EncryptionContext=CONTEXT)["CiphertextBlob"]
        admin.disable_key_rotation(KeyId=key_id)
        admin.enable_key_rotation(KeyId=key_id)
        keys_before = admin.list_keys()["Keys"]
        credentials = (tmp_path / "credentials").read_text()

    with processes.kms_emulator(tmp_path) as url:
        assert (tmp_path / "credentials").read_text() == credentials
        admin = processes.kms_client(tmp_path, url)  # the same credentials still sign
        assert admin.list_keys()["Keys"] == keys_before
        assert admin.describe_key(KeyId=alias)["KeyMetadata"]["Description"] == "persistent"
        assert admin.get_key_policy(KeyId=key_id)["Policy"] == policy
        assert admin.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
        assert admin.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"durable"


def test_the_listening_socket_disables_nagle_for_its_connections() -> None:
    """Without TCP_NODELAY each answer's body waits for the client's delayed ACK (tens of milliseconds)."""
    listener = server.listen("127.0.0.1", 0)
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with socket.create_connection(listener.getsockname()[:2]):
            listener.setblocking(True)
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


@pytest.mark.parametrize("context", ['{"\\ud800": "v"}', '{"k": "\\udfff"}'])
def test_a_context_that_is_not_unicode_is_a_client_error(
    state_dir: Path, url: str, admin: Any, context: str
) -> None:
    key_id = new_key(admin)
    body = f'{{"KeyId": "{key_id}", "Plaintext": "eA==", "EncryptionContext": {context}}}'.encode()
    response = signed(state_dir, url, body, "TrentService.Encrypt")
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"

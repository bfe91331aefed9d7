"""The enclave's RPC parameter and result types: strict decoding at the boundary."""

from __future__ import annotations

from typing import Any

import pytest

from nitro_wallet.wire import methods
from nitro_wallet.wire.errors import BadRequest


def test_round_trip() -> None:
    params = methods.DataKeyLoadParams(ciphertext_blob=b"\x01" * 40)
    assert methods.DataKeyLoadParams.parse(params.to_wire()) == params


def test_defaults_apply_when_optional_fields_are_absent() -> None:
    parsed = methods.AttestParams.parse({"nonce": b"n"})
    assert parsed.user_data is None
    assert methods.DataKeyGenerateParams.parse({}) == methods.DataKeyGenerateParams()


@pytest.mark.parametrize(
    ("cls", "data", "field"),
    [
        (methods.AttestParams, {}, "nonce"),
        (methods.AttestParams, {"nonce": "text"}, "nonce"),
        (methods.AttestParams, {"nonce": b"n", "public_key": b"k"}, "public_key"),
        (methods.AttestParams, {"nonce": b"n", "user_data": 5}, "user_data"),
        (methods.DataKeyGenerateParams, {"kms_key_id": 1}, "kms_key_id"),
        (
            methods.DataKeyGenerateParams,
            {"kms_key_id": "k", "encryption_context": {"a": 1}},
            "encryption_context",
        ),
        (
            methods.DataKeyGenerateParams,
            {"kms_key_id": "k", "encryption_context": ["a"]},
            "encryption_context",
        ),
        (methods.DescribeResult, {"module_id": "m", "nsm": "emulated", "debug": 1, "pcrs": {}}, "debug"),
        (
            methods.KmsCredentialsParams,
            {"access_key_id": "a", "secret_access_key": None},
            "secret_access_key",
        ),
    ],
)
def test_missing_unknown_and_mistyped_fields_are_refused_by_name(
    cls: type[methods.WireType], data: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        cls.parse(data)
    assert refused.value.field == field


def test_bool_is_not_accepted_where_bytes_or_int_are_expected() -> None:
    with pytest.raises(BadRequest, match="nonce must be bytes"):
        methods.AttestParams.parse({"nonce": True})


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda n: methods.AttestParams(nonce=b"n" * n), "nonce"),
        (lambda n: methods.AttestParams(nonce=b"n", user_data=b"u" * n), "user_data"),
    ],
)
def test_attestation_fields_are_bounded_at_the_device_limit(make: Any, field: str) -> None:
    make(methods.MAX_ATTESTATION_FIELD_BYTES)
    with pytest.raises(BadRequest) as refused:
        make(methods.MAX_ATTESTATION_FIELD_BYTES + 1)
    assert refused.value.field == field


def test_empty_nonce_is_refused() -> None:
    with pytest.raises(BadRequest, match="nonce"):
        methods.AttestParams(nonce=b"")


def test_ciphertext_blob_bound() -> None:
    methods.DataKeyLoadParams(ciphertext_blob=b"c" * methods.MAX_CIPHERTEXT_BLOB_BYTES)
    with pytest.raises(BadRequest, match="ciphertext_blob"):
        methods.DataKeyLoadParams(ciphertext_blob=b"c" * (methods.MAX_CIPHERTEXT_BLOB_BYTES + 1))


def test_credentials_never_print_the_secret() -> None:
    params = methods.KmsCredentialsParams("AKIAEXAMPLE", "canary-secret-value")
    assert "canary-secret-value" not in repr(params)
    assert "canary-secret-value" not in str(params)


def test_describe_result_names_pcrs_by_index() -> None:
    result = methods.DescribeResult(module_id="m", nsm="emulated", debug=False, pcrs={"0": b"\x01" * 48})
    assert result.pcr(0) == b"\x01" * 48

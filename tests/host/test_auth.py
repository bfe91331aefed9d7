"""The host API's authenticator against independent signers (botocore's SigV4Auth and the npm `aws4`
package), API keys minted by new_api_key, and the path-normal-form check that keeps SigV4's path
normalisation from letting one signature reach two routes.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet import sigv4
from nitro_wallet.host.auth import (
    ALL_PERMISSIONS,
    DEV_NO_AUTH,
    SIGV4_SERVICE,
    Authenticator,
    Permission,
    Principal,
    SigV4Identity,
    is_normal_path,
    new_api_key,
)
from nitro_wallet.host.store.records import ApiKeyRecord
from nitro_wallet.wire.errors import Denied, InternalError, NitroWalletError, Unauthenticated
from support.node import run_batch

REGION = "eu-west-2"
HOST = "127.0.0.1:8443"
SECRET = "CANARYsigv4secret/DoNotLeakThis+0123456"  # recognisable in any message it leaks into
KEY = sigv4.Credential("AKIANWTESTKEY0000001", SECRET, "nitro-wallet:test")
OTHER = sigv4.Credential("AKIANWTESTKEY0000002", "other-secret-0000000000000000000000000000", "x")
SIGNERS = (KEY, OTHER)
SIGN_ONLY = frozenset({Permission.SIGN})


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def signed_at(self) -> datetime:
        """When it was signed; now if it was not."""
        stamp = {n.lower(): v for n, v in self.headers}.get("x-amz-date")
        if stamp is None:
            return datetime.now(UTC)
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def with_authorization(self, value: str) -> Request:
        kept = tuple((n, v) for n, v in self.headers if n.lower() != "authorization")
        return replace(self, headers=(*kept, ("Authorization", value)))


def botocore_sign(
    method: str,
    target: str,
    *,
    body: bytes = b"",
    key: sigv4.Credential = KEY,
    service: str = SIGV4_SERVICE,
    region: str = REGION,
) -> Request:
    request = AWSRequest(method=method, url=f"http://{HOST}{target}", data=body)
    if body:
        request.headers["Content-Type"] = "application/json"
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, region).add_auth(request)
    wire = urlsplit(request.prepare().url)
    return Request(method, wire.path, wire.query, (("Host", wire.netloc), *request.headers.items()), body)


def aws4_sign(specs: list[dict[str, Any]]) -> list[Request]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for spec in specs:
        spec.update(
            host=HOST,
            service=SIGV4_SERVICE,
            region=REGION,
            access_key_id=KEY.access_key_id,
            secret_access_key=KEY.secret_access_key,
            headers=[["X-Amz-Date", stamp], *spec.get("headers", [])],
        )
        spec.setdefault("body_b64", "")
    signed = run_batch("sigv4_sign.js", "aws4", specs)
    requests = []
    for spec, out in zip(specs, signed, strict=True):
        path, _, query = out["path"].partition("?")
        headers = tuple((name, value) for name, value in out["headers"])
        requests.append(Request(spec["method"], path, query, headers, base64.b64decode(spec["body_b64"])))
    return requests


STORE: dict[str, ApiKeyRecord] = {}


def authenticator(*, at: datetime | None = None, **overrides: Any) -> Authenticator:
    when = at or datetime.now(UTC)
    arguments: dict[str, Any] = {
        "region": REGION,
        "sigv4_credentials": {
            KEY.access_key_id: SigV4Identity(KEY, frozenset({Permission.SIGN, Permission.KEYS_READ})),
            OTHER.access_key_id: SigV4Identity(OTHER, ALL_PERMISSIONS),
        },
        "api_keys": STORE.get,
        "clock": when.timestamp,
    }
    arguments.update(overrides)
    return Authenticator(**arguments)


def authenticate(request: Request, *, now: datetime | None = None, **overrides: Any) -> Principal:
    at = now if now is not None else request.signed_at()
    return authenticator(at=at, **overrides).authenticate(
        method=request.method,
        raw_path=request.raw_path,
        raw_query=request.raw_query,
        headers=request.headers,
        body=request.body,
    )


def with_headers(headers: Sequence[tuple[str, str]]) -> Request:
    return Request("GET", "/v1/keys", "", (("Host", HOST), *headers), b"")


def rejected(request: Request, match: str, **kwargs: Any) -> Unauthenticated:
    with pytest.raises(Unauthenticated, match=match) as caught:
        authenticate(request, **kwargs)
    assert caught.value.field is None
    return caught.value


def stored_api_key(permissions: Sequence[str] = ("sign",)) -> tuple[str, ApiKeyRecord]:
    token, record = new_api_key(permissions, label="test")
    STORE[record.key_id] = record
    return token, record


def with_last_digit_changed(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


# --- SigV4 --------------------------------------------------------------------------------------------


def test_botocore_get_with_query_and_post_with_body_authenticate() -> None:
    get = botocore_sign("GET", "/v1/keys?limit=10&cursor=abc%2Fdef")
    post = botocore_sign("POST", "/v1/keys/abc/sign/transaction", body=b'{"payload": {"nonce": 1}}')
    assert get.raw_query
    for request in (get, post):
        principal = authenticate(request)
        assert principal == Principal(
            f"sigv4:{KEY.access_key_id}", frozenset({Permission.SIGN, Permission.KEYS_READ})
        )
    assert authenticate(botocore_sign("GET", "/v1/keys", key=OTHER)).permissions == ALL_PERMISSIONS


def test_aws4_get_and_post_with_body_authenticate() -> None:
    body = base64.b64encode(b'{"transaction_payload": {"value": "0.01"}, "secret": "s"}').decode()
    specs: list[dict[str, Any]] = [
        {"method": "GET", "path": "/v1/keys?limit=5&cursor=x%20y"},
        {
            "method": "POST",
            "path": "/key/abc/tx_signature",
            "body_b64": body,
            "headers": [["Content-Type", "application/json"]],
        },
    ]
    for request in aws4_sign(specs):
        assert authenticate(request).name == f"sigv4:{KEY.access_key_id}"
        rejected(replace(request, body=request.body + b" "), "signature we calculated does not match")


def test_wrong_secret_is_refused() -> None:
    forged = replace(KEY, secret_access_key=SECRET[::-1])
    rejected(botocore_sign("POST", "/key", body=b"{}", key=forged), "does not match")


def test_a_cached_signing_key_is_never_used_for_another_secret() -> None:
    assert authenticate(botocore_sign("GET", "/v1/keys")).name.startswith("sigv4:")
    forged = replace(KEY, secret_access_key=OTHER.secret_access_key)
    rejected(botocore_sign("GET", "/v1/keys", key=forged), "does not match")


@pytest.mark.parametrize(
    ("service", "region", "match"),
    [("kms", REGION, "scoped to correct service"), (SIGV4_SERVICE, "us-east-1", "scoped to a valid region")],
)
def test_wrong_service_or_region_is_refused(service: str, region: str, match: str) -> None:
    rejected(botocore_sign("GET", "/v1/keys", service=service, region=region), match)


def test_clock_skew_is_allowed_up_to_the_window_and_refused_beyond() -> None:
    request = botocore_sign("GET", "/v1/keys")
    signed = request.signed_at()
    window = sigv4.MAX_CLOCK_SKEW
    assert authenticate(request, now=signed + window).name.startswith("sigv4:")
    assert authenticate(request, now=signed - window).name.startswith("sigv4:")
    rejected(request, "Signature expired", now=signed + window + timedelta(seconds=1))
    rejected(request, "Signature not yet current", now=signed - window - timedelta(seconds=1))


def test_unknown_access_key_is_refused() -> None:
    stranger = sigv4.Credential("AKIANWSTRANGER000001", SECRET, "x")
    rejected(botocore_sign("GET", "/v1/keys", key=stranger), "security token included in the request")


def test_tampered_body_path_and_query_are_refused() -> None:
    request = botocore_sign("POST", "/v1/keys/abc/sign/message?x=1", body=b'{"payload": {"message": "hi"}}')
    rejected(replace(request, body=request.body.replace(b"hi", b"ho")), "does not match")
    rejected(replace(request, raw_path="/v1/keys/abd/sign/message"), "does not match")
    rejected(replace(request, raw_query="x=2"), "does not match")
    rejected(replace(request, method="PUT"), "does not match")


def test_missing_and_repeated_authorization_are_refused() -> None:
    request = botocore_sign("GET", "/v1/keys")
    rejected(replace(request, headers=(*request.headers[:-1], ("X-Other", "1"))), "needs credentials")
    assert request.headers[-1][0] == "Authorization"
    repeated = (*request.headers, ("authorization", request.headers[-1][1]))
    rejected(replace(request, headers=repeated), "once")


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "Digest username=x", "AWS4-HMAC-SHA512 Credential=x", "", "   "]
)
def test_unknown_schemes_are_refused_naming_the_accepted_ones(value: str) -> None:
    rejected(with_headers([("Authorization", value)]), "use AWS4-HMAC-SHA256 .* or Bearer")


def test_dev_no_auth_admits_everything_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="nitro_wallet.host.auth"):
        principal = authenticate(with_headers([]), dev_no_auth=True)
    assert principal == DEV_NO_AUTH == Principal("dev-no-auth", ALL_PERMISSIONS)
    assert "authentication is OFF" in caplog.text
    garbage = with_headers([("Authorization", "Bearer nope")])
    assert authenticate(garbage, dev_no_auth=True) is DEV_NO_AUTH


def test_a_mapping_key_must_be_its_credentials_access_key_id() -> None:
    with pytest.raises(ValueError, match="another access key id"):
        authenticator(sigv4_credentials={OTHER.access_key_id: SigV4Identity(KEY, ALL_PERMISSIONS)})


# --- API keys -----------------------------------------------------------------------------------------


def test_api_key_authenticates_with_its_permissions() -> None:
    token, record = stored_api_key(["sign", "keys:read"])
    principal = authenticate(with_headers([("Authorization", f"Bearer {token}")]))
    assert principal == Principal(
        f"api-key:{record.key_id}", frozenset({Permission.SIGN, Permission.KEYS_READ})
    )
    lowercase = with_headers([("authorization", f"bearer  {token} ")])
    assert authenticate(lowercase) == principal


def test_api_key_with_a_wrong_secret_or_unknown_id_is_refused_alike() -> None:
    token, record = stored_api_key()
    wrong_secret = with_last_digit_changed(token)
    unknown_id = token.replace(record.key_id, "0" * 16 if record.key_id != "0" * 16 else "1" * 16)
    messages = {
        rejected(with_headers([("Authorization", f"Bearer {bad}")]), "not valid").message
        for bad in (wrong_secret, unknown_id)
    }
    assert messages == {"the API key is not valid"}


def test_a_store_answering_with_another_record_is_refused() -> None:
    token, record = stored_api_key()
    _, other = new_api_key(["sign"])
    swapped = replace(other, secret_sha256=record.secret_sha256)
    request = with_headers([("Authorization", f"Bearer {token}")])
    rejected(request, "not valid", api_keys=lambda _id: swapped)


@pytest.mark.parametrize(
    "shape",
    [
        lambda t: t.upper(),
        lambda t: t[:-1],
        lambda t: t + "0",
        lambda t: t.replace("nwk_", "nwk-"),
        lambda t: t.removeprefix("nwk_"),
        lambda t: t.replace("_", "", 2),
        lambda t: t[:20] + "_" + t[20:-1],
        lambda t: t[:-2] + "g0",
        lambda t: t[:-1] + "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit to \d, not to [0-9]
        lambda t: t + "\n",
        lambda t: "",
        lambda t: f"{t} {t}",
    ],
)
def test_malformed_api_keys_are_refused(shape: Callable[[str], str]) -> None:
    token, _ = stored_api_key()
    error = rejected(with_headers([("Authorization", f"Bearer {shape(token)}")]), "form")
    assert token.split("_")[2] not in str(error)


def test_a_stored_permission_this_version_does_not_know_is_refused_loudly() -> None:
    token, record = stored_api_key()
    future = replace(record, permissions=frozenset({"sign", "keys:teleport"}))
    request = with_headers([("Authorization", f"Bearer {token}")])
    with pytest.raises(InternalError, match="unknown permission"):
        authenticate(request, api_keys=lambda _id: future)


# --- permissions --------------------------------------------------------------------------------------


def test_require_passes_a_granted_permission_and_denies_a_missing_one() -> None:
    principal = Principal("api-key:0011223344556677", SIGN_ONLY)
    principal.require(Permission.SIGN)
    with pytest.raises(Denied) as caught:
        principal.require(Permission.KEYS_CREATE)
    assert caught.value.message == "this credential lacks the 'keys:create' permission"
    assert caught.value.field is None
    for permission in Permission:
        DEV_NO_AUTH.require(permission)


# --- nothing secret in errors and reprs ---------------------------------------------------------------


def test_no_secret_in_any_error_or_repr() -> None:
    token, record = stored_api_key()
    api_secret = token.split("_")[2]
    signed = botocore_sign("POST", "/key", body=b"{}")
    attempts = [
        with_headers([("Authorization", token)]),  # the token pasted without its scheme
        with_headers([("Authorization", f"Token {token}")]),
        with_headers([("Authorization", f"Bearer {token}x")]),
        with_headers([("Authorization", f"Bearer {with_last_digit_changed(token)}")]),
        with_headers([("Authorization", f"AWS4-HMAC-SHA256 {SECRET}")]),
        with_headers([("Authorization", f"AWS4-HMAC-SHA256 Credential={SECRET}")]),
        with_headers([("Authorization", SECRET)]),
        botocore_sign("POST", "/key", body=b"{}", key=replace(KEY, secret_access_key=SECRET + "x")),
        replace(signed, body=b"[]"),
    ]
    errors: list[NitroWalletError] = []
    for attempt in attempts:
        with pytest.raises(Unauthenticated) as caught:
            authenticate(attempt)
        errors.append(caught.value)
    identity = SigV4Identity(KEY, ALL_PERMISSIONS)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [e.message for e in errors]
    texts += [repr(authenticate(signed)), repr(identity), str(identity), repr(record), repr(authenticator())]
    for text in texts:
        assert SECRET not in text
        assert api_secret not in text


@given(st.text(st.characters(max_codepoint=0xFF), max_size=300))
def test_any_authorization_header_is_a_principal_or_unauthenticated(tail: str) -> None:
    auth = authenticator()
    for value in (tail, f"AWS4-HMAC-SHA256 {tail}", f"Bearer {tail}", f"Bearer nwk_{tail}"):
        with pytest.raises(Unauthenticated):
            auth.authenticate(
                method="GET",
                raw_path="/v1/keys",
                raw_query="",
                headers=[("Host", HOST), ("X-Amz-Date", "20260101T000000Z"), ("Authorization", value)],
                body=b"",
            )


SIGNED_FOR_MUTATION = botocore_sign("POST", "/v1/keys", body=b'{"secret": "s"}')


@given(st.data())
def test_any_one_character_change_to_a_signed_authorization_is_unauthenticated(data: st.DataObject) -> None:
    authorization = dict(SIGNED_FOR_MUTATION.headers)["Authorization"]
    index = data.draw(st.integers(0, len(authorization) - 1))
    char = data.draw(st.characters(max_codepoint=0xFF).filter(lambda c: c != authorization[index]))
    mutated = authorization[:index] + char + authorization[index + 1 :]
    try:
        authenticate(SIGNED_FOR_MUTATION.with_authorization(mutated))
    except Unauthenticated:
        return
    assert mutated.split() == authorization.split()  # only whitespace between components may change


# --- the signing-key cache (sigv4.MAX_CACHED_SIGNING_KEYS) ---------------------------------------------


def test_signing_key_cache_holds_at_most_its_bound() -> None:
    bound = sigv4.MAX_CACHED_SIGNING_KEYS
    sigv4._signing_key.cache_clear()
    for index in range(bound):
        sigv4._signing_key(f"secret-{index}", "20260101", REGION, SIGV4_SERVICE)
    assert sigv4._signing_key.cache_info().currsize == bound
    sigv4._signing_key("one more", "20260101", REGION, SIGV4_SERVICE)
    assert sigv4._signing_key.cache_info().currsize == bound
    assert authenticate(botocore_sign("GET", "/v1/keys")).name.startswith("sigv4:")  # evicted: derived again


# --- paths SigV4 would normalise ----------------------------------------------------------------------

NORMAL = ["/", "/key", "/key/", "/v1/keys/abc/sign/transaction", "/key/abc%20def", "/a/b.c", "/a/..b", "/%41"]
NOT_NORMAL = [
    "",
    "key",
    "//",
    "//a",
    "/a//b",
    "/a/b//",
    "/.",
    "/..",
    "/a/./b",
    "/a/../b",
    "/a/.",
    "/a/..",
    "/a/%2e%2e/b",
    "/a/%2E",
    "/a%2Fb",
    "/a%2fb",
    "/a%5Cb",
    "/a%5c",
    "/a\\b",
]


@pytest.mark.parametrize("path", NORMAL)
def test_normal_paths(path: str) -> None:
    assert is_normal_path(path)


@pytest.mark.parametrize("path", NOT_NORMAL)
def test_paths_that_are_not_normal(path: str) -> None:
    assert not is_normal_path(path)


_SEGMENTS = st.sampled_from(["a", "b.c", "", ".", "..", "%2F", "%2e", "%2E%2E", "x%20y", "%41", "\\", "~"])


@given(st.lists(_SEGMENTS, max_size=6), st.booleans())
def test_a_normal_path_is_signed_as_sent_and_decodes_to_the_same_segments(
    segments: list[str], trailing_slash: bool
) -> None:
    path = "/" + "/".join(segments) + ("/" if trailing_slash and segments else "")
    if not is_normal_path(path):
        return
    assert sigv4._canonical_uri(path) == quote(path, safe="/~")  # SigV4 changes nothing
    decoded = unquote(path).split("/")
    assert len(decoded) == len(path.split("/"))
    assert not {".", ".."} & set(decoded)


def test_every_signed_form_of_a_non_normal_path_is_refused() -> None:
    signed = botocore_sign("GET", "/v1/keys/abc")
    for variant in ("/v1/keys//abc", "/v1/keys/./abc", "/v1/keys/x/../abc", "/v1//keys/abc"):
        assert authenticate(replace(signed, raw_path=variant)).name.startswith("sigv4:")  # SigV4 alone: one
        assert not is_normal_path(variant)
    assert is_normal_path(signed.raw_path)

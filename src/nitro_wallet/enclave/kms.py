"""KMS from inside the enclave: every call that returns secret material carries a `Recipient`.

The enclave generates an RSA-2048 key at boot that never leaves its memory, asks the NSM for an attestation
document carrying that key's public half, and sends the document with Decrypt / GenerateDataKey /
GenerateRandom. KMS answers with `CiphertextForRecipient` (CMS to that key) instead of `Plaintext`, so the
host that relays the traffic only ever sees ciphertext. An answer that carries plaintext anyway is refused:
it has been in the clear outside the enclave.

The endpoint and the KMS key are part of the enclave's measured configuration, never chosen by the host at
run time: every call names the pinned key and every answer must come from it, and data keys always carry
the fixed `DATA_KEY_CONTEXT` (a generator's per-key data keys `WALLET_KEY_CONTEXT`), under which key
policies deny Encrypt and ReEncrypt. So the host can neither plant a data key it knows (Encrypt something,
or use a key it controls) nor learn the one KMS released. The one exception to the pinned key is the AWS
reference's KMS key, also named in the measured configuration, from which keys.migrate reads old keys.
Credentials (the parent instance's role) come from the host; they authenticate, they do not protect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nitro_wallet.enclave.cms import decrypt_enveloped_data
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.wire.errors import BadRequest, Denied, KmsDenied, KmsError
from nitro_wallet.wire.methods import DATA_KEY_CONTEXT, WALLET_KEY_CONTEXT

RECIPIENT_ALGORITHM = "RSAES_OAEP_SHA_256"
RECIPIENT_KEY_BITS = 2048
DATA_KEY_SPEC = "AES_256"
DATA_KEY_BYTES = 32
DENIAL_CODE = "AccessDeniedException"
CIPHERTEXT_FAULTS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=15,
    retries={"max_attempts": 3, "mode": "standard"},
    user_agent_extra="nitro-wallet",
)


@dataclass(frozen=True)
class KmsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"KmsCredentials(access_key_id={self.access_key_id!r})"


class AttestedKms:
    """The enclave's KMS client. Plaintext from KMS exists only in the values these methods return."""

    def __init__(
        self,
        nsm: Nsm,
        *,
        endpoint_url: str,
        region: str,
        key_arn: str,
        reference_key_arn: str | None = None,
    ) -> None:
        self._nsm = nsm
        self._endpoint_url = endpoint_url
        self._region = region
        self._key_arn = key_arn
        self._reference_key_arn = reference_key_arn
        self._recipient_key = rsa.generate_private_key(public_exponent=65537, key_size=RECIPIENT_KEY_BITS)
        self._public_der = self._recipient_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._client: Any = None

    def __repr__(self) -> str:
        return f"AttestedKms(endpoint_url={self._endpoint_url!r}, key_arn={self._key_arn!r})"

    @property
    def configured(self) -> bool:
        return self._client is not None

    def set_credentials(self, credentials: KmsCredentials) -> None:
        client = boto3.session.Session().client(
            "kms",
            endpoint_url=self._endpoint_url,
            region_name=self._region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=CLIENT_CONFIG,
        )
        self._client = client  # one reference assignment: atomic

    def _recipient(self) -> dict[str, Any]:
        document = self._nsm.attestation(public_key=self._public_der)
        return {"AttestationDocument": document, "KeyEncryptionAlgorithm": RECIPIENT_ALGORITHM}

    def _call(self, operation: str, *, caller_field: str | None = None, **params: Any) -> dict[str, Any]:
        """`caller_field`: the parameter a caller gave, named in a BadRequest if KMS finds it is no
        ciphertext of the key (otherwise that is KmsError: the host gave it, and the host is ours)."""
        client = self._client
        if client is None:
            raise KmsError("the enclave has no KMS credentials yet (call kms.credentials first)")
        try:
            answer: dict[str, Any] = getattr(client, operation)(Recipient=self._recipient(), **params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            message = exc.response.get("Error", {}).get("Message", "")
            text = f"KMS refused {operation}: {code}: {message}"
            if caller_field is not None and code in CIPHERTEXT_FAULTS:
                raise BadRequest(text, field=caller_field) from None
            error = KmsDenied if code == DENIAL_CODE else KmsError
            raise error(text) from None
        except BotoCoreError as exc:
            raise KmsError(f"KMS unreachable for {operation}: {type(exc).__name__}") from None
        return answer

    def _unwrap(self, operation: str, answer: Mapping[str, Any], expected_length: int | None) -> bytes:
        if answer.get("Plaintext"):
            raise KmsError(
                f"KMS answered {operation} with plaintext despite the Recipient: refusing to use it"
            )
        wrapped = answer.get("CiphertextForRecipient")
        if not isinstance(wrapped, bytes):
            raise KmsError(f"KMS answered {operation} without CiphertextForRecipient")
        return decrypt_enveloped_data(wrapped, self._recipient_key, expected_length=expected_length)

    def _from_key(self, operation: str, answer: Mapping[str, Any], key_arn: str) -> None:
        if answer.get("KeyId") != key_arn:
            raise KmsError(f"KMS answered {operation} with another key than the pinned {key_arn}")

    def generate_data_key(self, context: Mapping[str, str] = DATA_KEY_CONTEXT) -> tuple[bytes, bytes]:
        """A new 256-bit data key under the pinned KMS key: (its KMS ciphertext blob, the key itself).
        `context`: DATA_KEY_CONTEXT (the enclave's data keys) or WALLET_KEY_CONTEXT (a generator's)."""
        answer = self._call(
            "generate_data_key",
            KeyId=self._key_arn,
            KeySpec=DATA_KEY_SPEC,
            EncryptionContext=_data_key_context(context),
        )
        self._from_key("GenerateDataKey", answer, self._key_arn)
        blob = answer.get("CiphertextBlob")
        if not isinstance(blob, bytes):
            raise KmsError("KMS answered GenerateDataKey without CiphertextBlob")
        return blob, self._unwrap("GenerateDataKey", answer, DATA_KEY_BYTES)

    def decrypt_data_key(
        self, ciphertext_blob: bytes, context: Mapping[str, str] = DATA_KEY_CONTEXT
    ) -> bytes:
        """A data key from its KMS ciphertext, which must be under the pinned key and `context`."""
        answer = self._call(
            "decrypt",
            CiphertextBlob=ciphertext_blob,
            KeyId=self._key_arn,
            EncryptionContext=_data_key_context(context),
        )
        self._from_key("Decrypt", answer, self._key_arn)
        return self._unwrap("Decrypt", answer, DATA_KEY_BYTES)

    def decrypt_reference(self, ciphertext_blob: bytes) -> bytes:
        """The plaintext of one of the AWS reference's per-key ciphertexts (no encryption context), under
        the reference KMS key of the measured configuration."""
        if self._reference_key_arn is None:
            raise BadRequest(
                "this enclave has no reference KMS key in its measured configuration: it cannot migrate keys",
                field="ciphertext_blob",
            )
        try:
            answer = self._call(
                "decrypt",
                caller_field="ciphertext_blob",
                CiphertextBlob=ciphertext_blob,
                KeyId=self._reference_key_arn,
            )
        except KmsDenied:
            raise Denied(
                f"the policy of the reference key {self._reference_key_arn} does not let this enclave decrypt"
            ) from None
        self._from_key("Decrypt", answer, self._reference_key_arn)
        return self._unwrap("Decrypt", answer, expected_length=None)

    def generate_random(self, count: int) -> bytes:
        """Random bytes for the enclave's own use: never return them to the host, and never let the host
        choose `count` (one recipient key serves every call, so a relayed answer to another call, or a
        count probing the plaintext length, would leak)."""
        return self._unwrap("GenerateRandom", self._call("generate_random", NumberOfBytes=count), count)


def _data_key_context(context: Mapping[str, str]) -> dict[str, str]:
    if context not in (DATA_KEY_CONTEXT, WALLET_KEY_CONTEXT):
        raise KmsError("data keys carry DATA_KEY_CONTEXT or WALLET_KEY_CONTEXT, nothing else")
    return dict(context)

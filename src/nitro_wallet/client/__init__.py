"""The importable client of a nitro-wallet host: HTTP calls, request HMACs, sealed inputs.

with WalletClient("http://127.0.0.1:8080", auth=SigV4Auth.from_state_dir(state_dir),
                  verify_roots=devca.load_root(state_dir)) as wallet:
    created = wallet.create_key()          # sealed to the attested enclave; a new secret
    wallet.sign(created.key.key_id, "message", {"message": "hi", "encoding": "utf8"}, created.secret)
"""

from nitro_wallet.client.connection import DEFAULT_TIMEOUT_SECONDS
from nitro_wallet.client.credentials import ApiKeyAuth, SigV4Auth
from nitro_wallet.client.errors import ClientError, UnexpectedResponse, WalletApiError, WalletUnreachable
from nitro_wallet.client.views import CreatedKey, KeyPage, KeyView
from nitro_wallet.client.wallet import SIGN_KINDS, WalletClient

__all__ = [
    "WalletClient",
    "SigV4Auth",
    "ApiKeyAuth",
    "SIGN_KINDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "KeyView",
    "KeyPage",
    "CreatedKey",
    "ClientError",
    "WalletApiError",
    "WalletUnreachable",
    "UnexpectedResponse",
]

"""The host's HTTP API (docs/api.md): `build_app` makes the Starlette app."""

from nitro_wallet.host.api.app import build_app
from nitro_wallet.host.api.bodies import MAX_BODY_BYTES

__all__ = ["build_app", "MAX_BODY_BYTES"]

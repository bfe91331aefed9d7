"""The baseline service: what a user would write to sign transactions over HTTP with eth-account.

One Starlette route, `POST /sign`, whose JSON body is the transaction; it answers
`{"raw_transaction", "hash"}`. The key comes from NAIVE_SIGNER_KEY (hex) and lives in this process: no
authentication, no enclave, no policy. bench/eth_sign.py serves it with

    uvicorn --app-dir bench naive_signer:app --workers 2 --http httptools --loop uvloop
"""

from __future__ import annotations

import os

from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = bytes.fromhex(os.environ["NAIVE_SIGNER_KEY"])


async def sign(request: Request) -> JSONResponse:
    signed = Account.sign_transaction(await request.json(), KEY)
    return JSONResponse(
        {"raw_transaction": signed.raw_transaction.to_0x_hex(), "hash": signed.hash.to_0x_hex()}
    )


app = Starlette(routes=[Route("/sign", sign, methods=["POST"])])

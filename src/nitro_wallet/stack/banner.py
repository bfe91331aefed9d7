"""What `nitro-wallet up` prints once it is ready: where everything is, and a copy-paste quickstart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nitro_wallet.host.api.client_allowlist import ClientAllowlist
from nitro_wallet.host.api.web3signer import SIGN_PATH

if TYPE_CHECKING:
    from nitro_wallet.stack.local import LocalStack

KEY_ALIAS = "alias/nitro-wallet"


@dataclass(frozen=True)
class Eth2:
    """The Web3Signer eth2 API's settings, as the banner shows them."""

    network: str
    allowlist: ClientAllowlist
    validator_db: str  # a file, or "PostgreSQL ($NITRO_WALLET_VALIDATOR_DB)": never the conninfo
    tls: tuple[str, Path] | None = None  # the mutual-TLS listener's URL and its clients' CA

    def tls_line(self) -> str:
        if self.tls is None:
            return ""
        url, client_ca = self.tls
        sign_url = url + SIGN_PATH.replace("{identifier}", "{pubkey}")
        return f"\n  Eth2 mTLS    {sign_url}  (any client certificate signed by {client_ca})"

    def clients(self) -> str:
        return ", ".join(["loopback", *map(str, self.allowlist.networks)])


def ready(
    stack: LocalStack, url: str, *, pcr0: Mapping[str, bytes], enclaves_ready: Sequence[str], eth2: Eth2
) -> str:
    state_dir, state, kms_url = stack.state_dir, stack.state, stack.kms_url
    sign_url = url + SIGN_PATH.replace("{identifier}", "{pubkey}")
    enclaves = "\n".join(
        f"  {_enclave_name(role):<12} {slot.address}  (emulated NSM, PCR0 {pcr0[role].hex()[:16]}…)"
        for role, slot in stack.enclaves.items()
    )
    status = "\n".join(f"  {line}" for line in enclaves_ready)
    return f"""
nitro-wallet local stack is up (state: {state_dir})
  API          {url}  (SigV4 with the default profile of {state_dir}/credentials; docs/api.md)
  Eth2 signer  {sign_url}  (Web3Signer API, network {eth2.network}; from {eth2.clients()}){eth2.tls_line()}
  validators   {eth2.validator_db}  (validator keys and slashing protection)
  Keymanager   {url}/eth/v1/keystores  (Bearer token in {state_dir}/keymanager-token;
               nitro-wallet validators import DIR)
{enclaves}
  KMS          {kms_url}  (emulator; key {KEY_ALIAS})
  key ARN      {state.kms_key_arn}
{status}

Quickstart, in another terminal:
  export NITRO_WALLET_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  nitro-wallet keys create --url {url} --state-dir {state_dir}            # prints the key id and address
  echo '{{"type": 2, "chainId": 1, "nonce": 0, "to": "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf",
        "value": "10000000000000000", "gas": 21000, "maxFeePerGas": "30000000000",
        "maxPriorityFeePerGas": "1000000000"}}' > tx.json
  nitro-wallet sign tx KEY_ID tx.json --url {url} --state-dir {state_dir}

  # the reference's routes, with curl's SigV4:
  curl --aws-sigv4 "aws:amz:{state.region}:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \\
      -H 'content-type: application/json' -d "{{\\"secret\\": \\"$NITRO_WALLET_SECRET\\"}}" {url}/key
  # (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the default profile in {state_dir}/credentials)

  nitro-wallet attestation verify ... / nitro-wallet enclave describe --connect {stack.signer.address}

Ready: {url}/upcheck answers 200. Ctrl-C stops everything."""


def _enclave_name(role: str) -> str:
    return "enclave" if role == "wallet" else role

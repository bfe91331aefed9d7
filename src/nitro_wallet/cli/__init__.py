"""The `nitro-wallet` command line: composes the parts, never runs inside the enclave."""

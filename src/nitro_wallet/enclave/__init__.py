"""TRUSTED. Everything here runs inside the enclave. Never import host, emulator or CLI code.

Plaintext keys, user secrets and data keys exist only in this package's memory; only ciphertexts,
public keys, addresses and attestation documents leave it.
"""

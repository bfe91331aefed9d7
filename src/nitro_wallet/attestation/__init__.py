"""Nitro attestation documents: the COSE_Sign1 format, the verifier, and the development CA."""

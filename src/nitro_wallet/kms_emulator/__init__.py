"""A KMS-compatible development service (AWS JSON 1.1 protocol) with Recipient attestation support.

For local use only: it keeps key material in its state directory.
"""

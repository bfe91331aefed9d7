"""nitro-wallet: keys in plaintext only inside a (real or emulated) AWS Nitro Enclave."""

__version__ = "0.1.0"

"""The local stack: composes the emulated enclave, the KMS emulator and the host on one machine."""

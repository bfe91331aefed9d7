"""The narrow contract both sides of the enclave boundary share: frames, messages, error codes.

No I/O and no secrets live here.
"""

"""UNTRUSTED. The parent instance: API, auth, storage of ciphertexts, proxies, supervision.

Nothing here ever holds a plaintext key, user secret or data key. Never import enclave code.
"""

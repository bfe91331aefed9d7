"""HAZARDOUS MATERIALS: raw curve operations on secret scalars. Only enclave code imports this package.

Nothing here checks a policy: callers (the keyring) must have done so. Raw digest signing signs whatever 32
bytes it is given; it is reachable from outside only through the keyring's policy-gated `unsafe_` verb.
"""

"""Eth2 validator signing inside the enclave: EIP-2335 keystores, BLS keys, signing roots, slashing
protection."""

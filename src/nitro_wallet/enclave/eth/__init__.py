"""Ethereum formats the enclave computes itself: transactions, message hashes, user operations."""

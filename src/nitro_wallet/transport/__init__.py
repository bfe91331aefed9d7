"""Byte streams between host and enclave: AF_VSOCK in production, Unix sockets or loopback TCP locally."""

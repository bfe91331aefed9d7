"""The Nitro Secure Module: one client, two devices (/dev/nsm, or the explicitly emulated one)."""

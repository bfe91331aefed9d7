"""The importable client of a nitro-wallet host: HTTP calls, request HMACs, sealed inputs."""

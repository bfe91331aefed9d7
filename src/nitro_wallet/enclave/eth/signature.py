"""An ECDSA secp256k1 signature in Ethereum's form, and the curve order it is checked against.

Nothing secret lives here: signatures leave the enclave. The keys that make them stay in `_hazmat`.
"""

from __future__ import annotations

from dataclasses import dataclass

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Signature:
    r: int
    s: int
    y_parity: int  # 0 or 1

    def to_bytes(self, *, v_offset: int = 27) -> bytes:
        """65 bytes r || s || v with v = y_parity + v_offset (27 for messages, 0 for raw parity)."""
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.y_parity + v_offset])

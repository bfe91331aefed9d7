"""The consensus forks a request's `version` names (BLOCK_V2, AGGREGATE_AND_PROOF_V2), oldest first."""

from __future__ import annotations

from enum import StrEnum

from nitro_wallet.wire.errors import BadRequest


class ConsensusFork(StrEnum):
    PHASE0 = "PHASE0"
    ALTAIR = "ALTAIR"
    BELLATRIX = "BELLATRIX"
    CAPELLA = "CAPELLA"
    DENEB = "DENEB"
    ELECTRA = "ELECTRA"
    FULU = "FULU"

    def at_least(self, other: ConsensusFork) -> bool:
        return _ORDER.index(self) >= _ORDER.index(other)


_ORDER = tuple(ConsensusFork)
MAX_NAME_CHARS = 32


def consensus_fork(value: object, field: str) -> ConsensusFork:
    """A fork name, in any letter case as Web3Signer reads it ("PHASE0", "phase0")."""
    if isinstance(value, str) and len(value) <= MAX_NAME_CHARS and value.isascii():
        try:
            return ConsensusFork(value.upper())
        except ValueError:
            pass
    names = ", ".join(_ORDER)
    raise BadRequest(f"{field} must name a fork: one of {names}", field=field)

"""Pruning while serving: `nitro-wallet up` deletes old slashing-protection records hourly so the tables
stay bounded (each validator keeps its last DEFAULT_KEEP_EPOCHS epochs and its watermarks; store.prune)."""

from __future__ import annotations

import asyncio
import logging

from nitro_wallet.host.slashing.store import DEFAULT_KEEP_EPOCHS, SlashingStore

PRUNE_INTERVAL_SECONDS = 3600.0

_log = logging.getLogger(__name__)


async def prune_periodically(
    store: SlashingStore,
    *,
    interval: float = PRUNE_INTERVAL_SECONDS,
    keep_epochs: int = DEFAULT_KEEP_EPOCHS,
) -> None:
    """Prune now and every `interval` seconds until cancelled. A failed pass is logged and retried at the
    next one: pruning only bounds space, it never decides what may be signed."""
    while True:
        try:
            pruned = await asyncio.to_thread(store.prune, keep_epochs)
        except Exception as exc:  # any failure waits for the next pass
            _log.warning("slashing-protection pruning failed: %s", type(exc).__name__)
        else:
            if pruned.blocks or pruned.attestations:
                _log.info("pruned %d blocks and %d attestations", pruned.blocks, pruned.attestations)
        await asyncio.sleep(interval)

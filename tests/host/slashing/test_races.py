"""Replicas racing to sign conflicting messages for one validator: many stores on one database, each
with its own connection, released together by a barrier (threads) or a go line (processes). In every round
exactly one request wins and the others are refused; rounds alternate between a validator seen for the
first time (its row is created inside the race) and one already on record.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from nitro_wallet.host.slashing import Rule, SlashingStore, UnsafeToSign, Verdict
from nitro_wallet.host.slashing.store import ValidatorKeyRecord
from nitro_wallet.wire.errors import NotFound

THREADS = 8
ROUNDS = 5
PROCESSES = 4
PROCESS_ROUNDS = 2
GVR = b"\x01" * 32

Attempt = Callable[[SlashingStore, int], Verdict]  # (store, thread number) -> verdict


def root(number: int) -> bytes:
    return bytes([number + 1]) * 32


def pubkey_for(round_number: int) -> bytes:
    return bytes([0xA0 + round_number // 2]) * 48  # two rounds per validator: new, then known


def double_vote(round_number: int) -> Attempt:
    base = 100 * round_number
    pubkey = pubkey_for(round_number)
    return lambda store, n: store.check_and_record_attestation(pubkey, GVR, base, base + 5, root(n))


def surround_votes(round_number: int) -> Attempt:
    """Thread n votes (base + 10 - n, base + 11 + n): each pair of votes surrounds one way or the other."""
    base = 100 * round_number
    pubkey = pubkey_for(round_number)
    return lambda store, n: store.check_and_record_attestation(
        pubkey, GVR, base + 10 - n, base + 11 + n, root(0)
    )


def double_proposal(round_number: int) -> Attempt:
    pubkey = pubkey_for(round_number)
    return lambda store, n: store.check_and_record_block(pubkey, GVR, 100 * round_number, root(n))


def race(stores: list[SlashingStore], attempt: Attempt) -> list[Verdict | Rule]:
    barrier = threading.Barrier(len(stores))
    outcomes: list[Verdict | Rule | BaseException | None] = [None] * len(stores)

    def run(number: int) -> None:
        barrier.wait()
        try:
            outcomes[number] = attempt(stores[number], number)
        except UnsafeToSign as exc:
            outcomes[number] = exc.rule
        except BaseException as exc:
            outcomes[number] = exc

    threads = [threading.Thread(target=run, args=(number,)) for number in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        assert isinstance(outcome, Verdict | Rule), f"a racer failed: {outcome!r}"
    return [outcome for outcome in outcomes if isinstance(outcome, Verdict | Rule)]


@pytest.mark.parametrize("conflict", [double_vote, surround_votes, double_proposal])
def test_exactly_one_of_many_conflicting_requests_wins(
    open_store: Callable[[], SlashingStore], conflict: Callable[[int], Attempt]
) -> None:
    stores = [open_store() for _ in range(THREADS)]
    for round_number in range(ROUNDS):
        outcomes = race(stores, conflict(round_number))
        assert outcomes.count(Verdict.SIGN) == 1, f"round {round_number}: {outcomes}"
        assert all(isinstance(outcome, Rule) for outcome in outcomes if outcome is not Verdict.SIGN)
    history = stores[0].snapshot().validators
    assert sum(len(v.blocks) + len(v.attestations) for v in history) == ROUNDS


@pytest.mark.parametrize("conflict", [double_vote, surround_votes, double_proposal])
def test_exactly_one_of_many_conflicting_requests_through_one_store_wins(
    open_store: Callable[[], SlashingStore], conflict: Callable[[int], Attempt]
) -> None:
    """Threads sharing one store, as a replica's requests do: on SQLite they commit in batches together."""
    store = open_store()
    for round_number in range(ROUNDS):
        outcomes = race([store] * THREADS, conflict(round_number))
        assert outcomes.count(Verdict.SIGN) == 1, f"round {round_number}: {outcomes}"
    history = store.snapshot().validators
    assert sum(len(v.blocks) + len(v.attestations) for v in history) == ROUNDS


def test_exactly_one_chain_is_pinned_by_racing_first_uses(open_store: Callable[[], SlashingStore]) -> None:
    stores = [open_store() for _ in range(THREADS)]

    def pin(store: SlashingStore, number: int) -> Verdict:
        store.pin_genesis_validators_root(root(number))
        return Verdict.SIGN

    outcomes = race(stores, pin)
    assert outcomes.count(Verdict.SIGN) == 1
    assert set(outcomes) - {Verdict.SIGN} == {Rule.GENESIS_MISMATCH}
    assert stores[0].snapshot().genesis_validators_root == root(outcomes.index(Verdict.SIGN))


CHILD = """
import sys
from nitro_wallet.host.slashing import PostgresSlashingStore, SqliteSlashingStore, UnsafeToSign
kind, location, pubkey, gvr, source, target, root = sys.argv[1:]
store = SqliteSlashingStore(location) if kind == "sqlite" else PostgresSlashingStore(location)
print("ready", flush=True)
sys.stdin.readline()
try:
    verdict = store.check_and_record_attestation(
        bytes.fromhex(pubkey), bytes.fromhex(gvr), int(source), int(target), bytes.fromhex(root)
    )
    print(verdict.value, flush=True)
except UnsafeToSign as exc:
    print(exc.rule.value, flush=True)
store.close()
"""


def vote_arguments(pubkey: bytes, source: int, target: int, number: int) -> list[str]:
    return [pubkey.hex(), GVR.hex(), str(source), str(target), root(number).hex()]


def test_exactly_one_of_many_racing_processes_wins(database: tuple[str, str]) -> None:
    """Separate processes, as separate replicas would be: surround votes for one validator."""
    kind, location = database
    for round_number in range(PROCESS_ROUNDS):
        base, pubkey = 100 * round_number, pubkey_for(round_number)
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    kind,
                    location,
                    *vote_arguments(pubkey, base + 10 - n, base + 11 + n, n),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(PROCESSES)
        ]
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline() == "ready\n"
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            outcomes = [child.communicate()[0].strip() for child in children]
        finally:
            for child in children:
                child.kill()
                child.wait()
        assert outcomes.count("sign") == 1, f"round {round_number}: {outcomes}"
        assert set(outcomes) - {"sign"} <= {rule.value for rule in Rule}


def test_a_deletion_racing_signatures_exports_every_one_that_was_recorded(
    open_store: Callable[[], SlashingStore],
) -> None:
    """Signers vote for successive targets while a deletion disables the key and exports: whatever was
    recorded is in the export the deletion returns (taken after it commits); nothing is recorded after."""
    pubkey = b"\xde" * 48
    stores = [open_store() for _ in range(THREADS)]
    stores[0].add_validator_key(ValidatorKeyRecord(pubkey, "0f" * 16, b"\x02" * 77, created_at=1))
    barrier = threading.Barrier(THREADS)
    recorded: list[int] = []
    exported: list[int] = []

    def sign(number: int) -> None:
        barrier.wait()
        for step in range(10):
            target = 10 * step + number
            try:
                store = stores[number]
                if store.check_and_record_attestation(pubkey, GVR, 0, target, root(number)) is Verdict.SIGN:
                    recorded.append(target)
            except (UnsafeToSign, NotFound):
                pass

    def delete() -> None:
        barrier.wait()
        assert stores[0].disable_validator_keys([pubkey]) == [pubkey]
        history = stores[0].snapshot([pubkey]).validators[0]
        exported.extend(vote.target_epoch for vote in history.attestations)

    threads = [threading.Thread(target=sign, args=(number,)) for number in range(1, THREADS)]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(recorded) <= set(exported)

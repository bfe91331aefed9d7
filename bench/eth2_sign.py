"""Validator ATTESTATION signatures through the whole local stack, beside the raw BLS sign rate.

    .venv/bin/python bench/eth2_sign.py [--seconds 5] [--validators 1,100,10000] [--clients 32]
                                        [--skip-postgres] [--profile DIR]

Measures signatures per second and p50/p99 latency of Web3Signer's sign route through `nitro-wallet up`
(HTTP, the host, the RPC to the enclave, its signing root, marks and BLS signature, then the slashing-
protection database's check-and-record, the answer) for each number of validators, with the validator
database on SQLite (DIR/validators.sqlite3) and on PostgreSQL (a throwaway server, tests/support/postgres.py,
named by $NITRO_WALLET_VALIDATOR_DB), beside pyblst signing 32-byte roots in this process on one core, as
the enclave's _hazmat/bls.py does, measured in the same run.

Validators are imported through the Keymanager API (POST /eth/v1/keystores with DIR/keymanager-token), in
batches, from keystores built by the tests' builder with cheap pbkdf2 parameters. Every request is a new,
non-slashable attestation (bench/eth2_attestations.py), built before the clock starts; one validator's
requests go through one connection, in order, so there are at most as many clients as validators. Before
each run, every validator it adds signs once, unmeasured (a validator's first signature unseals its key into
the enclave's cache and creates its database row; their latency is printed), so runs measure the steady
state. A sample of signatures is verified with py_ecc over signing roots computed independently. The load,
the CPU accounting and the py-spy profiles (--profile) are bench/eth_sign.py's and bench/http_load.py's.

Prints the table, the ratios to the raw BLS rate and whether the target is met, with no assertions on
speed; exits 1 if a response was not 200 or failed its check. For PostgreSQL, "others" includes the
database server's processes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyblst
import pytest
from eth2_attestations import AttestationRequests, check_example, check_signatures
from eth_sign import (
    HOST,
    MAX_RATE,
    WARMUP_SECONDS,
    Row,
    Scenario,
    Settings,
    child_pids,
    post_json,
    run_row,
    serving,
)
from http_load import Load, measure_in_process
from py_ecc.bls.g2_primitives import G1_to_pubkey
from py_ecc.optimized_bls12_381 import G1

from nitro_wallet.host.keymanager_token import TOKEN_FILE
from nitro_wallet.host.slashing.validator_db import VALIDATOR_DB_ENV

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' builders, as a package
from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from support.postgres import postgres_server

TARGET_RATE = 2_000  # signatures per second end to end, on SQLite
BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
PASSWORD = "bench keystore password"  # noqa: S105 (of throwaway keys)
PBKDF2_ITERATIONS = 16  # the enclave accepts c >= 1: importing 10,000 keystores costs nothing in KDFs
IMPORT_BATCH = 512  # keystores per Keymanager request (the route takes 1,024 within a 1 MiB body)
PRIME_SECONDS = 600.0  # a bound: priming ends when every validator has signed once
CHECKED_SIGNATURES = 4  # per run, verified with py_ecc (~0.3 s each)
BUSY_MACHINE = 0.1  # cores used by other processes during a SQLite run above which it is flagged
KEYMANAGER_PATH = "/eth/v1/keystores"
_G1_GENERATOR = pyblst.BlstP1Element.uncompress(G1_to_pubkey(G1))


@dataclass(frozen=True)
class Keystore:
    pubkey: bytes
    text: str


@dataclass(frozen=True)
class Stack:
    """A running `nitro-wallet up`: its port, its processes by role, its Keymanager token."""

    database: str
    label: str
    port: int
    pids: dict[str, int]
    token: str


@dataclass(frozen=True)
class Measured:
    database: str
    validators: int
    row: Row


def keystores(count: int) -> list[Keystore]:
    """`count` EIP-2335 keystores of fresh keys (public keys by pyblst: py_ecc's would take minutes)."""
    built = []
    for _ in range(count):
        secret = random_secret()
        pubkey = bytes(_G1_GENERATOR.scalar_mul(int.from_bytes(secret, "big")).compress())
        document = build_keystore(secret, PASSWORD, c=PBKDF2_ITERATIONS, pubkey=pubkey)
        built.append(Keystore(pubkey, json.dumps(document)))
    return built


def bls_sign_rate(seconds: float) -> float:
    """Signatures per second of pyblst on one core: hash to G2, multiply, compress, as _hazmat/bls.py."""
    scalar = int.from_bytes(random_secret(), "big")
    roots = [os.urandom(32) for _ in range(64)]
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for root in roots:
            pyblst.BlstP2Element.hash_to_group(root, BLS_DST).scalar_mul(scalar).compress()
        count += len(roots)
    return count / (time.perf_counter() - start)


@contextmanager
def validator_stack(work: Path, database: str, conninfo: str = "") -> Iterator[Stack]:
    """`nitro-wallet up` with its validator database on SQLite, or on PostgreSQL given a conninfo."""
    state_dir = work / database.lower()
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(state_dir), "--port", "0"]
    with serving(argv, {VALIDATOR_DB_ENV: conninfo}) as server:
        url = server.wait_for(r"^Ready: (\S+)/upcheck").group(1)
        where = server.wait_for(r"^\s+validators\s+(.+?)\s+\(validator keys").group(1)
        print(f"{database}: `nitro-wallet up` at {url}, validator database {where}")
        (enclave,) = child_pids(server.process.pid, "nitro_wallet.enclave")
        token = (state_dir / TOKEN_FILE).read_text().strip()
        port = int(url.rsplit(":", 1)[1])
        yield Stack(database, database.lower(), port, {"host": server.process.pid, "enclave": enclave}, token)


def import_keystores(stack: Stack, batch: Sequence[Keystore]) -> None:
    """Import through the Keymanager API, IMPORT_BATCH keystores a request; every one must be imported."""
    started = time.perf_counter()
    for at in range(0, len(batch), IMPORT_BATCH):
        chunk = batch[at : at + IMPORT_BATCH]
        body = {"keystores": [item.text for item in chunk], "passwords": [PASSWORD] * len(chunk)}
        answer = post_json(stack.port, KEYMANAGER_PATH, body, stack.token)
        data = answer["data"]
        assert isinstance(data, list)
        refused = [status for status in data if status.get("status") != "imported"]
        if refused:
            raise RuntimeError(f"{len(refused)} keystores not imported, first: {refused[0]}")
    elapsed = time.perf_counter() - started
    print(f"{stack.database}: imported {len(batch):,} keystores through {KEYMANAGER_PATH} in {elapsed:.1f} s")


@dataclass
class Plan:
    """What every stack is measured with; `next_epoch` moves past each run's attestations, so no later run
    (on the same validators) repeats or goes below an epoch an earlier one could have used."""

    pubkeys: Sequence[bytes]
    counts: Sequence[int]  # of validators, one run each
    clients: int
    settings: Settings
    next_epoch: int = 1


def measure_stack(stack: Stack, plan: Plan) -> list[Measured]:
    """One run per number of validators (the first `count` keys), primed first, then checked."""
    limit = int(MAX_RATE * (WARMUP_SECONDS + plan.settings.seconds))  # as run_row builds
    measured, primed = [], 0
    for count in plan.counts:
        problems = prime(stack, plan, tuple(plan.pubkeys[primed:count]))
        primed = count
        lanes, rounds = min(plan.clients, count), math.ceil(limit / count)
        pubkeys = tuple(plan.pubkeys[:count])
        source = AttestationRequests(f"{HOST}:{stack.port}", pubkeys, lanes, plan.next_epoch, rounds)
        plan.next_epoch += rounds
        label = f"{stack.label}-v{count}"
        scenario = Scenario(stack.database, label, stack.port, stack.pids, source, _checked_below, True)
        row = run_row(scenario, lanes, plan.settings)
        result = row.result
        row.problems += problems
        row.problems += check_signatures(result.samples, result.sampled_requests, CHECKED_SIGNATURES)
        print(f"{stack.database}, {count:,} validators, {lanes} clients: {result.rate:,.0f} signatures/s")
        measured.append(Measured(stack.database, count, row))
    return measured


def prime(stack: Stack, plan: Plan, pubkeys: tuple[bytes, ...]) -> list[str]:
    """One attestation for each of `pubkeys`, unmeasured, so that the runs measure the steady state: the key
    unsealed in the enclave's cache, the validator's row in the database (a validator signs once an epoch;
    only its first signature after a start or an import pays for those). Prints what the first signatures
    took; returns problems, if any."""
    if not pubkeys:
        return []
    lanes = min(plan.clients, len(pubkeys))
    source = AttestationRequests(f"{HOST}:{stack.port}", pubkeys, lanes, plan.next_epoch, rounds=1)
    plan.next_epoch += 1
    result = measure_in_process(Load(HOST, stack.port, lanes, 0.0, PRIME_SECONDS, len(pubkeys)), source)
    if result.failures or len(result.latencies) != len(pubkeys):
        first = (result.first_error or b"")[:300].decode(errors="replace")
        return [f"priming answered {result.statuses} for {len(pubkeys)} requests; first error: {first}"]
    mean = sum(result.latencies) / len(result.latencies)
    print(
        f"{stack.database}: first signature of {len(pubkeys):,} validators ({lanes} clients): p50"
        f" {result.percentile(0.5) * 1e3:.2f} ms, p99 {result.percentile(0.99) * 1e3:.2f} ms,"
        f" ~{lanes / mean:,.0f}/s (clients / mean latency)"
    )
    return []


def _checked_below(_samples: list[bytes]) -> list[str]:
    """run_row's check sees the bodies only: the signatures are checked with their requests afterwards."""
    return []


def report(measured: list[Measured], bls_rate: float) -> None:
    header = f"{'database':10} {'validators':>10} {'clients':>7} {'sig/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    print(f"\n{header} {'CPU µs/sig (host + enclave)':>28} {'others':>7} {'vs raw BLS':>11}")
    for item in measured:
        result = item.row.result
        line = f"{item.database:10} {item.validators:10,} {item.row.clients:7} {result.rate:8,.0f}"
        line += f" {result.percentile(0.5) * 1e3:7.2f} {result.percentile(0.99) * 1e3:7.2f}"
        line += f" {item.row.cpu_text():>28} {item.row.others:7.0%} {result.rate / bls_rate:10.2f}x"
        print(line)
    print(f"\nraw BLS sign (pyblst, in-process, one core): {bls_rate:,.0f} signatures/s")
    print(f"load generator: at most {max(item.row.result.generator_cpu for item in measured):.0%} of a core")
    for item in measured:
        if item.database != "SQLite":
            continue
        rate = item.row.result.rate
        if item.row.clients == 1:  # a validator's votes are judged one after another: a latency, not a load
            p50 = item.row.result.percentile(0.5) * 1e3
            print(
                f"target {TARGET_RATE:,} signatures/s on SQLite, {item.validators:,} validator: not a load"
                f" test (one client sends its attestations one at a time: {rate:,.0f}/s = 1 / latency,"
                f" p50 {p50:.2f} ms)"
            )
            continue
        verdict = "met" if rate >= TARGET_RATE else "MISSED"
        print(
            f"target {TARGET_RATE:,} signatures/s on SQLite, {item.validators:,} validators: "
            f"{verdict} ({rate:,.0f}/s)"
        )
    busy = [item.row.others for item in measured if item.database == "SQLite"]
    if busy and max(busy) > BUSY_MACHINE:
        print(
            f"WARNING: other processes used up to {max(busy):.0%} of a core during a run: numbers are skewed"
        )
    for item in measured:
        for problem in item.row.problems:
            print(f"PROBLEM ({item.database}, {item.validators:,} validators): {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time of each run")
    parser.add_argument("--validators", default="1,100,10000", help="comma-separated numbers of validators")
    parser.add_argument(
        "--clients", type=int, default=32, help="concurrent clients (at most one per validator)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure the SQLite database only")
    parser.add_argument("--profile", type=Path, help="record our runs with py-spy into this directory")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable (default: on PATH)")
    args = parser.parse_args()
    counts = sorted({int(count) for count in args.validators.split(",")})
    if counts[0] < 1 or args.clients < 1:
        parser.error("--validators and --clients are positive numbers")
    py_spy = shutil.which(args.py_spy) if args.profile else ""
    if py_spy is None:
        parser.error(f"--profile needs py-spy; {args.py_spy!r} was not found")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    settings = Settings(args.seconds, args.profile, py_spy)
    example = sign_examples().get("ATTESTATION")
    if example is None:
        print("the OpenAPI examples are absent: the signing-root code is checked against the enclave only")
    else:
        check_example(example)
    bls_rate = bls_sign_rate(args.seconds)
    started = time.perf_counter()
    built = keystores(counts[-1])
    elapsed = time.perf_counter() - started
    print(f"built {len(built):,} keystores (pbkdf2, c={PBKDF2_ITERATIONS}) in {elapsed:.1f} s")
    plan = Plan([item.pubkey for item in built], counts, args.clients, settings)
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="nw-bench-eth2-") as work:
        with validator_stack(Path(work), "SQLite") as stack:
            import_keystores(stack, built)
            measured += measure_stack(stack, plan)
        if not args.skip_postgres:
            try:
                with (
                    postgres_server() as server,
                    validator_stack(Path(work), "PostgreSQL", server.new_database()) as stack,
                ):
                    import_keystores(stack, built)
                    measured += measure_stack(stack, plan)
            except pytest.skip.Exception as skipped:
                print(f"PostgreSQL skipped: {skipped.msg}")
    report(measured, bls_rate)
    if any(item.row.problems for item in measured):
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Signed EIP-1559 transactions through the whole local stack, against what a user would otherwise run.

    .venv/bin/python bench/eth_sign.py [--seconds 5] [--clients 32,64] [--skip-naive] [--profile DIR]

Measures transactions per second and p50/p99 latency through `nitro-wallet up` (HTTP, API-key
authentication, the store, the RPC to the enclave and back) at each number of concurrent clients, beside
two baselines measured in the same run on the same machine:
* eth-account's `Account.sign_transaction` in this process, on one core: the signature alone;
* bench/naive_signer.py, a Starlette app signing with eth-account, served by uvicorn with 2 workers.
Our stack is loaded twice: with the key's secret in the body (the host computes the request HMAC) and
with a client-computed v1 HMAC and a fresh nonce per request (built before the clock starts). The load
comes from bench/http_load.py, in a process of its own. A sample of responses is decoded and must recover
to the signing key's address. Prints the ratios and whether the target is met, with no assertions on
speed; exits 1 if a response was not 200 or failed its check (the numbers would mean nothing).

Both servers run side by side; each concurrency's runs follow each other, so a passing disturbance skews
one ratio rather than all. CPU µs/tx is the server's processor time (host + enclave, or both uvicorn
workers) over every answered request, warm-up included; "others" is the share of a core every other
process used meanwhile (a warning is printed above BUSY_MACHINE: the machine was not quiet).

`--profile DIR` records each of our runs with py-spy (on PATH, or --py-spy): DIR/<run>-c<N>-host.txt and
DIR/<run>-c<N>-enclave.txt, collapsed stacks (py-spy's raw format). Sampling slows the server somewhat:
read the profiles for proportions, not the table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from http_load import FixedRequest, Load, LoadResult, RequestSource, http_request, measure_in_process

from nitro_wallet.host.credentials import new_api_key
from nitro_wallet.host.store import SqliteKeyStore
from nitro_wallet.stack.local import STORE_FILE
from nitro_wallet.wire.request_auth import request_hmac

TARGET_RATE = 5_000
TARGET_P99_MS = 15.0
WARMUP_SECONDS = 1.0
MAX_RATE = 16_000  # client-HMAC requests are built ahead for this many per second, well above 2 cores' worth
BUSY_MACHINE = 0.1  # cores used by other processes during a run above which its numbers are flagged
START_SECONDS = 90
STOP_SECONDS = 20
HOST = "127.0.0.1"
OPERATION = "eth.sign_transaction"
NAIVE_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PAYLOAD = {
    "type": 2,
    "chainId": 1,
    "nonce": 42,
    "gas": 100_000,
    "maxFeePerGas": 100_000_000_000,
    "maxPriorityFeePerGas": 3_000_000_000,
    "to": "0xd3CdA913deB6f67967B99D67aCDFa1712C293601",
    "value": 10**16,
    "data": "0xa9059cbb" + "00" * 64,
    "accessList": [],
}
PAYLOAD_TEXT = json.dumps(PAYLOAD, separators=(",", ":"))
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """A server child whose output a thread drains into lines, so that we wait on what it prints."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name = " ".join(argv[1:4])
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, pattern: str, count: int = 1) -> re.Match[str]:
        """The `count`-th match of `pattern` in the output (waits for it)."""

        def found() -> re.Match[str] | None:
            matches = [match for line in self.lines if (match := re.search(pattern, line))]
            return matches[count - 1] if len(matches) >= count else None

        with self._changed:
            ended = self._changed.wait_for(
                lambda: found() or (self.lines and self.lines[-1] == ""), timeout=START_SECONDS
            )
            match = found()
        if match is None:
            tail = "".join(self.lines)[-3000:]
            raise RuntimeError(f"{self.name} never printed {pattern!r} ({ended=}):\n{tail}")
        return match

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drain.join(STOP_SECONDS)


@contextmanager
def serving(argv: Sequence[str], env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(argv, {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        yield server
    finally:
        server.stop()


def post_json(port: int, path: str, body: object, token: str) -> dict[str, object]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        connection.request("POST", path, json.dumps(body).encode(), headers)
        response = connection.getresponse()
        answer: dict[str, object] = json.loads(response.read())
    finally:
        connection.close()
    if response.status // 100 != 2:
        raise RuntimeError(f"POST {path} answered {response.status}: {answer}")
    return answer


def api_key(state_dir: Path) -> str:
    """A token that may create keys and sign, put in the store (DIR/wallet.sqlite3) before `up` starts."""
    state_dir.mkdir(mode=0o700)
    store = SqliteKeyStore(state_dir / STORE_FILE)
    try:
        token, record = new_api_key({"keys:create", "sign"}, label="bench/eth_sign.py")
        store.add_api_key(record)
    finally:
        store.close()
    return token


@dataclass(frozen=True)
class ClientHmacRequests:
    """Sign requests carrying a v1 HMAC the client computed, each with its own nonce (no replays)."""

    path: str
    host: str
    token: str
    key_id: str
    secret: str

    def build(self, limit: int) -> Sequence[bytes]:
        headers = {"Authorization": f"Bearer {self.token}"}
        requests = []
        for _ in range(limit):
            timestamp, nonce = int(time.time()), secrets.token_urlsafe(16)
            mac = request_hmac(
                self.secret, PAYLOAD_TEXT, timestamp, nonce, key_id=self.key_id, operation=OPERATION
            )
            auth = json.dumps({"timestamp": timestamp, "nonce": nonce, "hmac": mac})
            body = f'{{"payload":{PAYLOAD_TEXT},"auth":{auth}}}'.encode()
            requests.append(http_request("POST", self.path, self.host, body, headers))
        return requests


@dataclass
class Row:
    clients: int
    server: str
    result: LoadResult
    cpu_seconds: dict[str, float]  # of each of the server's processes, over the whole run
    others: float  # cores used meanwhile by every process but the server's and the generator
    problems: list[str]

    def cpu_text(self) -> str:
        """CPU µs per answered request, with the host/enclave split for our stack."""
        answered = max(1, sum(self.result.statuses.values()))
        per_role = {role: seconds / answered * 1e6 for role, seconds in self.cpu_seconds.items()}
        total = f"{sum(per_role.values()):,.0f}"
        if set(per_role) != {"host", "enclave"}:
            return total
        return f"{total} = {per_role['host']:,.0f} + {per_role['enclave']:,.0f}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every processor of the machine has spent busy (not idle or waiting for I/O) so far."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / _CLOCK_TICKS


def child_pids(pid: int, marker: str) -> list[int]:
    """Children of `pid` whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if parent == pid and marker in cmdline:
            found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Scenario:
    """One server loaded one way: its processes (by role, for CPU and profiles), its requests, its check."""

    server: str
    label: str
    port: int
    pids: dict[str, int]
    source: RequestSource
    check: Callable[[list[bytes]], list[str]]
    profiled: bool


@dataclass(frozen=True)
class Settings:
    seconds: float
    profile: Path | None
    py_spy: str


@contextmanager
def profiling(scenario: Scenario, clients: int, settings: Settings) -> Iterator[None]:
    """py-spy records each of the scenario's processes for the length of the run, if asked to."""
    profilers = []
    if settings.profile is not None and scenario.profiled:
        for role, pid in scenario.pids.items():
            output = settings.profile / f"{scenario.label}-c{clients}-{role}.txt"
            argv = [settings.py_spy, "record", "--pid", str(pid), "--format", "raw", "--nonblocking"]
            argv += ["--duration", str(round(WARMUP_SECONDS + settings.seconds)), "--output", str(output)]
            profilers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for profiler in profilers:
            profiler.wait(STOP_SECONDS)


def run_row(scenario: Scenario, clients: int, settings: Settings) -> Row:
    limit = int(MAX_RATE * (WARMUP_SECONDS + settings.seconds))
    plan = Load(HOST, scenario.port, clients, WARMUP_SECONDS, settings.seconds, limit)
    before = {role: cpu_seconds(pid) for role, pid in scenario.pids.items()}
    machine_before, started = machine_busy_seconds(), time.perf_counter()
    with profiling(scenario, clients, settings):
        result = measure_in_process(plan, scenario.source)
    wall, machine = time.perf_counter() - started, machine_busy_seconds() - machine_before
    used = {role: cpu_seconds(pid) - before[role] for role, pid in scenario.pids.items()}
    others = (machine - sum(used.values()) - result.generator_total_cpu) / wall
    row = Row(clients, scenario.server, result, used, max(0.0, others), [])
    if result.failures:
        first = (result.first_error or b"")[:300].decode(errors="replace")
        row.problems.append(f"{result.failures} responses were not 200 ({result.statuses}); first: {first}")
    if result.exhausted:
        row.problems.append(f"ran out of pre-built requests (more than {MAX_RATE}/s?)")
    row.problems += scenario.check(result.samples) if result.samples else ["no 200 response to check"]
    return row


def check_ours(samples: list[bytes], address: str) -> list[str]:
    expected = TypedTransaction.from_dict(PAYLOAD).as_dict()
    for body in samples:
        answer = json.loads(body)
        raw = HexBytes(answer["raw_transaction"])
        decoded = TypedTransaction.from_bytes(raw).as_dict()
        if any(decoded[name] != value for name, value in expected.items()):
            return [f"a signed transaction differs from the payload: {decoded}"]
        if Account.recover_transaction(raw) != address:
            return [f"a signature does not recover to the key's address {address}"]
        if answer["transaction_hash"] != "0x" + keccak(raw).hex():
            return ["a transaction_hash is not keccak256(raw_transaction)"]
    return []


def check_naive(samples: list[bytes]) -> list[str]:
    expected = Account.sign_transaction(PAYLOAD, NAIVE_KEY).raw_transaction.to_0x_hex()
    if any(json.loads(body)["raw_transaction"] != expected for body in samples):
        return ["the naive signer's transaction differs from eth-account's"]
    return []


@contextmanager
def our_stack(work: Path) -> Iterator[list[Scenario]]:
    """`nitro-wallet up` with one key, loaded with the secret in the body and with client HMACs."""
    state_dir = work / "state"
    token = api_key(state_dir)
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(state_dir)]
    with serving([*argv, "--port", "0"]) as stack:
        url = stack.wait_for(r"^Ready: (\S+)/upcheck").group(1)
        port = int(url.rsplit(":", 1)[1])
        (enclave,) = child_pids(stack.process.pid, "nitro_wallet.enclave")
        pids = {"host": stack.process.pid, "enclave": enclave}
        secret = secrets.token_hex(24)
        key = post_json(port, "/v1/keys", {"secret": secret}, token)["key"]
        assert isinstance(key, dict)
        path, host = f"/v1/keys/{key['key_id']}/sign/transaction", f"{HOST}:{port}"
        body = json.dumps({"payload": PAYLOAD, "secret": secret}).encode()
        in_body = FixedRequest(http_request("POST", path, host, body, {"Authorization": f"Bearer {token}"}))
        client_hmac = ClientHmacRequests(path, host, token, key["key_id"], secret)
        check = partial(check_ours, address=key["address"])
        yield [
            Scenario("nitro-wallet, secret in body", "host-hmac", port, pids, in_body, check, True),
            Scenario("nitro-wallet, client HMAC", "client-hmac", port, pids, client_hmac, check, True),
        ]


@contextmanager
def naive_signer() -> Iterator[list[Scenario]]:
    """bench/naive_signer.py under uvicorn with 2 worker processes."""
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "naive_signer:app"]
    argv += ["--host", HOST, "--port", "0", "--workers", "2", "--http", "httptools", "--loop", "uvloop"]
    argv += ["--no-access-log"]
    with serving(argv, {"NAIVE_SIGNER_KEY": NAIVE_KEY.hex()}) as server:
        port = int(server.wait_for(r"Uvicorn running on http://[\d.]+:(\d+)").group(1))
        server.wait_for("Application startup complete", count=2)
        workers = child_pids(server.process.pid, "spawn_main")
        pids = {f"worker{index}": pid for index, pid in enumerate(workers)}
        body = json.dumps(PAYLOAD).encode()
        source = FixedRequest(http_request("POST", "/sign", f"{HOST}:{port}", body, {}))
        yield [Scenario("naive", "naive", port, pids, source, check_naive, False)]


def eth_account_rate(seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            Account.sign_transaction(PAYLOAD, NAIVE_KEY)
        count += 20
    return count / (time.perf_counter() - start)


def report(rows: list[Row], baseline: float) -> None:
    naive_rates = {row.clients: row.result.rate for row in rows if row.server == "naive"}
    header = f"{'clients':>7}  {'server':30} {'tx/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    print(f"{header} {'CPU µs/tx (host + enclave)':>26} {'others':>7} {'vs naive':>9} {'vs eth-account':>15}")
    for row in rows:
        result = row.result
        line = f"{row.clients:7}  {row.server:30} {result.rate:8,.0f} {result.percentile(0.5) * 1e3:7.2f}"
        line += f" {result.percentile(0.99) * 1e3:7.2f} {row.cpu_text():>26} {row.others:7.0%}"
        if row.server != "naive":
            versus = f"{result.rate / naive_rates[row.clients]:8.2f}x" if row.clients in naive_rates else ""
            line += f" {versus:>9} {result.rate / baseline:14.2f}x"
        print(line)
    print(f"\neth-account sign_transaction in-process, one core: {baseline:,.0f} tx/s")
    generator = max(row.result.generator_cpu for row in rows)
    print(f"load generator: at most {generator:.0%} of a core while measuring")
    for row in rows:
        if row.server != "naive":
            p99 = row.result.percentile(0.99) * 1e3
            met = row.result.rate >= TARGET_RATE and p99 < TARGET_P99_MS
            print(
                f"target {TARGET_RATE:,} tx/s with p99 < {TARGET_P99_MS:g} ms, {row.server}, "
                f"{row.clients} clients: {'met' if met else 'MISSED'} "
                f"({row.result.rate:,.0f} tx/s, p99 {p99:.2f} ms)"
            )
    busy = max(row.others for row in rows)
    if busy > BUSY_MACHINE:
        print(f"WARNING: other processes used up to {busy:.0%} of a core during a run: numbers are skewed")
    for row in rows:
        for problem in row.problems:
            print(f"PROBLEM ({row.server}, {row.clients} clients): {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time of each run")
    parser.add_argument("--clients", default="32,64", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the naive Starlette baseline")
    parser.add_argument("--profile", type=Path, help="record our runs with py-spy into this directory")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable (default: on PATH)")
    args = parser.parse_args()
    clients = [int(count) for count in args.clients.split(",")]
    py_spy = shutil.which(args.py_spy) if args.profile else ""
    if py_spy is None:
        parser.error(f"--profile needs py-spy; {args.py_spy!r} was not found")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    settings = Settings(args.seconds, args.profile, py_spy)
    baseline = eth_account_rate(args.seconds)
    with tempfile.TemporaryDirectory(prefix="nw-bench-") as work, ExitStack() as servers:
        scenarios = servers.enter_context(our_stack(Path(work)))
        if not args.skip_naive:
            scenarios += servers.enter_context(naive_signer())
        rows = [run_row(scenario, count, settings) for count in clients for scenario in scenarios]
    report(rows, baseline)
    if any(row.problems for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()

"""A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `pg_ctl start` listening
on a Unix socket in that directory only (no TCP), one fresh database per test, stopped at the end.

Binaries are looked up in PATH, then in /usr/lib/postgresql/*/bin (Debian's layout, not on PATH); tests
skip with the reason when there are none. `initdb` refuses to run as root, so under uid 0 (CI containers)
the server's programs run as the `postgres` account (created by Debian's package) or else `nobody`, via
`runuser`, and the directory is handed to that account.

Synchronisation is `pg_ctl -w`, which returns once the server accepts connections; there are no sleeps.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

SUPERUSER = "nitro"
TIMEOUT_SECONDS = 60  # for initdb, and for pg_ctl to see the server accept connections
MAX_CONNECTIONS = 100  # races open one connection per thread, each test's stores a few more
SERVICE_ACCOUNTS = ("postgres", "nobody")  # who runs the server when the tests run as root
_BINARIES = ("initdb", "pg_ctl", "postgres")


@dataclass
class PostgresServer:
    directory: Path
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.directory} user={SUPERUSER} dbname={dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its conninfo."""
        name = f"test_{next(self._numbers)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.conninfo(name)

    def drop_database(self, conninfo: str) -> None:
        name = conninfo.rsplit("dbname=", 1)[1]
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE {name} WITH (FORCE)")


def find_binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    on_path = [shutil.which(name) for name in _BINARIES]
    if all(on_path):
        return Path(str(on_path[0])).resolve().parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in _BINARIES):
            return Path(directory)
    return None


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a server (or skip the test); stop it and delete its files on exit."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL not installed: no initdb/pg_ctl/postgres in PATH or /usr/lib/postgresql/*/bin"
        )
    account = _service_account()
    prefix = [] if account is None else ["runuser", "-u", account.pw_name, "--"]
    directory = Path(tempfile.mkdtemp(prefix="nw-pg-"))  # short: a socket path holds 107 bytes
    try:
        if account is not None:
            os.chown(directory, account.pw_uid, account.pw_gid)
        data, log = directory / "data", directory / "server.log"
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
        _run([*prefix, *initdb])
        pg_ctl = [*prefix, str(binaries / "pg_ctl"), "-D", str(data)]
        options = f"-c listen_addresses='' -k {directory} -c fsync=off -c max_connections={MAX_CONNECTIONS}"
        try:
            _run([*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", str(TIMEOUT_SECONDS), "start"], log=log)
            yield PostgresServer(directory)
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _service_account() -> pwd.struct_passwd | None:
    """None when not root; else the account to run the server as (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser, and initdb refuses to run as root")
    for name in SERVICE_ACCOUNTS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip(f"running as root and none of the accounts {SERVICE_ACCOUNTS} exists to run PostgreSQL as")


def _run(argv: Sequence[str], *, log: Path | None = None, check: bool = True) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, cwd="/", timeout=TIMEOUT_SECONDS)
    if check and result.returncode != 0:
        server_log = log.read_text()[-3000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{argv} failed ({result.returncode}):\n{result.stderr[-3000:]}\n{server_log}")


def _version(directory: str) -> tuple[int, ...]:
    name = Path(directory).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())

"""`nitro-wallet up`'s mutual-TLS options go together: all four name the listener the stack starts (on
--host, or on --eth2-tls-host), none starts none, and some of them, --eth2-tls-host alone, a missing file or
a bad port is a usage error naming the option. --dev-no-auth keeps the listener on loopback too."""

from __future__ import annotations

from pathlib import Path

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.stack.api_server import ClientTls
from nitro_wallet.stack.local import Eth2TlsListener


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    options: dict[str, object] = {}

    async def run(state_dir: object, **given: object) -> int:
        options.update(given)
        return 0

    monkeypatch.setattr("nitro_wallet.stack.local.run", run)
    return options


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    names = {"--eth2-tls-cert": "server.pem", "--eth2-tls-key": "server.key", "--eth2-client-ca": "ca.pem"}
    paths = {option: tmp_path / name for option, name in names.items()}
    for path in paths.values():
        path.write_text("PEM")
    return paths


def argv(files: dict[str, Path], port: str = "9443") -> list[str]:
    return ["up", "--eth2-tls-port", port, *(part for item in files.items() for part in map(str, item))]


def test_all_four_name_the_listener(seen: dict[str, object], files: dict[str, Path]) -> None:
    assert main(argv(files)) == 0
    tls = ClientTls(files["--eth2-tls-cert"], files["--eth2-tls-key"], files["--eth2-client-ca"])
    assert seen["eth2_tls"] == Eth2TlsListener("127.0.0.1", 9443, tls)
    assert main(["up"]) == 0
    assert seen["eth2_tls"] is None


@pytest.mark.parametrize(
    "left_out", ["--eth2-tls-port", "--eth2-tls-cert", "--eth2-tls-key", "--eth2-client-ca"]
)
def test_some_of_them_are_a_usage_error(
    seen: dict[str, object], files: dict[str, Path], capsys: pytest.CaptureFixture[str], left_out: str
) -> None:
    given = argv(files)
    at = given.index(left_out)
    del given[at : at + 2]
    assert main(given) == 2
    assert f"go together: missing {left_out}" in capsys.readouterr().err
    assert seen == {}


def test_a_missing_file_is_a_usage_error(
    seen: dict[str, object], files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["--eth2-client-ca"].unlink()
    assert main(argv(files)) == 2
    assert "--eth2-client-ca: no such file" in capsys.readouterr().err
    assert seen == {}


@pytest.mark.parametrize(("port", "valid"), [("65535", True), ("65536", False), ("-1", False), ("x", False)])
def test_the_port_is_bounded(
    seen: dict[str, object],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    port: str,
    valid: bool,
) -> None:
    if valid:
        assert main(argv(files, port)) == 0
        return
    with pytest.raises(SystemExit) as caught:
        main(argv(files, port))
    assert caught.value.code == 2
    assert "--eth2-tls-port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "api_host", "tls_host"),
    [
        ([], "127.0.0.1", "127.0.0.1"),
        (["--host", "0.0.0.0"], "0.0.0.0", "0.0.0.0"),
        (["--eth2-tls-host", "10.0.0.7"], "127.0.0.1", "10.0.0.7"),
        (["--host", "127.0.0.1", "--eth2-tls-host", "0.0.0.0"], "127.0.0.1", "0.0.0.0"),
    ],
)
def test_the_listener_is_on_host_unless_eth2_tls_host_names_its_own(
    seen: dict[str, object], files: dict[str, Path], extra: list[str], api_host: str, tls_host: str
) -> None:
    assert main([*argv(files), *extra]) == 0
    listener = seen["eth2_tls"]
    assert isinstance(listener, Eth2TlsListener)
    assert (seen["host"], listener.host, listener.port) == (api_host, tls_host, 9443)


def test_eth2_tls_host_alone_is_a_usage_error(
    seen: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "--eth2-tls-host", "127.0.0.2"]) == 2
    err = capsys.readouterr().err
    assert "--eth2-tls-host is the mutual-TLS listener's address: it needs --eth2-tls-port" in err
    assert seen == {}


def test_eth2_tls_host_with_some_of_them_is_a_usage_error(
    seen: dict[str, object], files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    given = argv(files)
    del given[given.index("--eth2-tls-key") : given.index("--eth2-tls-key") + 2]
    assert main([*given, "--eth2-tls-host", "127.0.0.2"]) == 2
    assert "go together: missing --eth2-tls-key" in capsys.readouterr().err
    assert seen == {}


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["--eth2-tls-host", "127.0.0.2"], "--eth2-tls-host 127.0.0.1"),
        (["--host", "0.0.0.0"], "--host 127.0.0.1"),  # the listener defaults to it
        (["--host", "0.0.0.0", "--eth2-tls-host", "127.0.0.1"], "--host 127.0.0.1"),
    ],
)
def test_dev_no_auth_refuses_a_listener_beyond_127_0_0_1(
    tmp_path: Path,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    addresses: list[str],
    refused: str,
) -> None:
    """Without authentication every route is open, on the mutual-TLS listener too: it stays on loopback."""
    state_dir = tmp_path / "state"
    assert main([*argv(files), "--dev-no-auth", *addresses, "--state-dir", str(state_dir)]) == 2
    assert f"--dev-no-auth is allowed only with {refused}\n" in capsys.readouterr().err
    assert not state_dir.exists()

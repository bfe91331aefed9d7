"""`nitro-wallet up`'s mutual-TLS options go together: all four name the listener the stack starts, none
starts none, and some of them, a missing file or a bad port is a usage error naming the option."""

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
    assert seen["eth2_tls"] == Eth2TlsListener(9443, tls)
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

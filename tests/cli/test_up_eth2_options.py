"""`nitro-wallet up`'s eth2 options are read before anything starts: a network by name or 0x genesis fork
version, allowlist entries as CIDR networks; anything else is a usage error naming the option."""

from __future__ import annotations

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.wire.eth2_networks import NETWORKS, Network


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--eth2-network", "goerli", "must be one of mainnet, sepolia, holesky, hoodi, minimal"),
        ("--eth2-network", "0x0000001", "0x followed by 8 hex digits"),
        ("--eth2-allow", "10.0.0.1/8", "is not a CIDR network"),
        ("--eth2-allow", "everyone", "is not a CIDR network"),
    ],
)
def test_a_bad_eth2_option_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["up", option, value])
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert option in error
    assert message in error


def test_the_options_parse_into_what_the_stack_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    async def run(state_dir: object, **options: object) -> int:
        seen.update(options)
        return 0

    monkeypatch.setattr("nitro_wallet.stack.local.run", run)
    monkeypatch.setenv("NITRO_WALLET_VALIDATOR_DB", "host=/nonexistent dbname=validators")
    argv = ["up", "--eth2-network", "0x10000910", "--eth2-allow", "10.0.0.0/8", "--eth2-allow", "fd00::/8"]
    assert main(argv) == 0
    assert seen["eth2_network"] == Network("0x10000910", bytes.fromhex("10000910"), "mainnet")
    assert [str(network) for network in seen["eth2_allowlist"].networks] == ["10.0.0.0/8", "fd00::/8"]  # type: ignore[attr-defined]
    assert seen["validator_db_conninfo"] == "host=/nonexistent dbname=validators"
    monkeypatch.delenv("NITRO_WALLET_VALIDATOR_DB")
    assert main(["up"]) == 0
    assert seen["eth2_network"] is NETWORKS["mainnet"]
    assert seen["validator_db_conninfo"] is None

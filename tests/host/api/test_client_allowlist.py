"""The eth2 routes' client allowlist: loopback always, the configured networks, nothing else (not even an
address it cannot read); entries are networks, at most MAX_ALLOWED_NETWORKS of them."""

from __future__ import annotations

import ipaddress

import pytest

from nitro_wallet.host.api.client_allowlist import MAX_ALLOWED_NETWORKS, ClientAllowlist, parse_network
from nitro_wallet.wire.errors import BadRequest, Denied


@pytest.mark.parametrize(
    ("client", "admitted"),
    [
        (("127.0.0.1", 1), True),
        (("127.255.0.9", 1), True),
        (("::1", 1), True),
        (("::ffff:127.0.0.1", 1), True),
        (("10.1.2.3", 1), True),
        (("::ffff:10.1.2.3", 1), True),
        (("fd00::5", 1), True),
        (("10.2.0.0", 1), False),
        (("fe80::1", 1), False),
        (("fe80::1%eth0", 1), False),
        (("testclient", 1), False),
        (None, False),
        ([], False),
    ],
)
def test_who_is_admitted(client: tuple[str, int] | None, admitted: bool) -> None:
    allowlist = ClientAllowlist.parse(["10.1.0.0/16", "fd00::/64"])
    assert allowlist.admits(client) is admitted
    if not admitted:
        with pytest.raises(Denied):
            allowlist.check(client)


def test_without_networks_only_loopback_is_admitted() -> None:
    allowlist = ClientAllowlist()
    assert allowlist.admits(("127.0.0.1", 1))
    assert not allowlist.admits(("192.0.2.1", 1))
    assert repr(allowlist) == "ClientAllowlist(loopback, nothing else)"


@pytest.mark.parametrize("text", ["10.0.0.1/8", "example.org", "10.0.0.0/33", "", "::1/129"])
def test_an_entry_must_be_a_network(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_network(text)
    assert caught.value.field == "eth2_allow"


def test_a_single_address_is_a_network_of_one() -> None:
    assert parse_network("192.0.2.7") == ipaddress.ip_network("192.0.2.7/32")


def test_the_number_of_networks_is_bounded() -> None:
    networks = [
        ipaddress.ip_network(f"10.{n // 256}.{n % 256}.0/24") for n in range(MAX_ALLOWED_NETWORKS + 1)
    ]
    assert len(ClientAllowlist(networks[:MAX_ALLOWED_NETWORKS]).networks) == MAX_ALLOWED_NETWORKS
    with pytest.raises(BadRequest) as caught:
        ClientAllowlist(networks)
    assert caught.value.field == "eth2_allow"

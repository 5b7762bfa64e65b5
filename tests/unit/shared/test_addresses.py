"""Who the client is, given the peer, X-Forwarded-For and the trusted proxies."""
import pytest

from shared.addresses import IN_PROCESS_PEER, client_address, forwarded_chain

INGRESS = ("10.0.0.0/8", "::1")


@pytest.mark.parametrize("peer, header, expected", [
    ("127.0.0.1", "198.51.100.1", "127.0.0.1"),                 # nothing trusted: the peer
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
])
def test_without_trusted_proxies_the_header_is_ignored(peer, header, expected):
    assert client_address(peer, header, ()) == expected


@pytest.mark.parametrize("peer, header, expected", [
    ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
    ("10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),      # what the client wrote is skipped
    ("10.1.2.3", "198.51.100.1, 10.9.9.9", "198.51.100.1"),     # two proxies of ours
    ("::1", "2001:db8::5", "2001:db8::5"),
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),             # not a proxy of ours
    ("10.1.2.3", "", "10.1.2.3"),
    ("10.1.2.3", "10.4.4.4", "10.4.4.4"),                       # only proxies: the farthest
])
def test_a_trusted_proxy_vouches_for_the_hop_before_it(peer, header, expected):
    assert client_address(peer, header, INGRESS) == expected


def test_the_in_process_gateway_is_believed_without_configuration():
    assert client_address(IN_PROCESS_PEER, "198.51.100.1", ()) == "198.51.100.1"


def test_a_forged_header_is_not_passed_on():
    assert forwarded_chain("203.0.113.9", "6.6.6.6", INGRESS) == "203.0.113.9"
    assert forwarded_chain("10.1.2.3", "198.51.100.1", INGRESS) == "198.51.100.1, 10.1.2.3"

"""Who the client is: the peer, or, when the peer is a configured proxy, the nearest address
in X-Forwarded-For that is not one (a client can write anything into the header, but only
the hops our own proxies appended can be believed)."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The peer an in-process caller (the gateway of embedded mode) shows; no TCP peer has this
# address, so trusting it trusts nothing on the network.
IN_PROCESS_PEER = "in-process"


@lru_cache(maxsize=64)
def proxy_networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` entries as networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted if entry.strip())


def is_trusted(address: str, networks: Iterable[Network]) -> bool:
    if address == IN_PROCESS_PEER:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def client_address(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The client's address as far as trusted proxies vouch for it."""
    networks = proxy_networks(trusted)
    if not is_trusted(peer, networks):
        return peer
    hops = [hop.strip()[:64] for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def forwarded_chain(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The X-Forwarded-For to pass on: what trusted proxies wrote, then the peer; a header
    sent by anyone else is dropped rather than passed on as if it were true."""
    if forwarded_for and is_trusted(peer, proxy_networks(trusted)):
        return f"{forwarded_for}, {peer}"
    return peer

"""Who sent a request: the client address the login limit counts (shop/accounts/limits.py).

- At a public entry point (the monolith, the gateway) it is the connection's peer. Behind a
  proxy that peer is the proxy, so the proxies listed in SHOP_FORWARDED_ALLOW_IPS are believed
  about whom they forwarded for (X-Forwarded-For, read from the right: the last address that
  is not itself such a proxy). Nobody else is: a client cannot choose its own address.
- Behind the gateway, a service sees the gateway as its peer; the gateway says who the client
  was in ``X-Shop-Client``. It sets that header itself and never passes a client's copy on
  (it forwards only a fixed list of headers), and services are internal: reachable only by
  the shop's own processes (loopback, unless told otherwise)."""
import ipaddress

HEADER = "X-Shop-Client"
_FROM_GATEWAY = "HTTP_X_SHOP_CLIENT"


def _networks(trusted: str) -> list:
    out = []
    for part in (p.strip() for p in trusted.split(",")):
        if part == "*":
            out.append(ipaddress.ip_network("0.0.0.0/0"))
            out.append(ipaddress.ip_network("::/0"))
        elif part:
            out.append(ipaddress.ip_network(part, strict=False))
    return out


def _in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


def peer_address(trusted_proxies: str = ""):
    """A function of a WSGI environ giving the client's address at a public entry point."""
    networks = _networks(trusted_proxies)

    def address(environ) -> str:
        peer = environ.get("REMOTE_ADDR") or ""
        if not networks or not _in(peer, networks):
            return peer
        hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not _in(hop, networks):
                return hop
        return hops[0] if hops else peer

    return address


def from_gateway(environ) -> str:
    """In a service: the client the gateway named, else the peer (a call from another service)."""
    return environ.get(_FROM_GATEWAY) or environ.get("REMOTE_ADDR") or ""

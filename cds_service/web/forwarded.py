"""The client's address and scheme behind trusted reverse proxies (`[server] trusted_proxies`).

`X-Forwarded-For` and `X-Forwarded-Proto` are anyone's word: a client may send them itself. They
are believed only when the connection comes from a configured proxy, and then read from the
right, where the proxies appended what they saw: the client is the rightmost address that is
not itself a trusted proxy. The result replaces `REMOTE_ADDR` and `wsgi.url_scheme` before Flask
sees the request, so the admin throttle, the audit log and every log line name the same client.

Unlike Werkzeug's `ProxyFix`, which trusts a number of hops from whoever connects, the proxies
are named: a client that reaches the service around the proxy cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"
FORWARDED_PROTO = "HTTP_X_FORWARDED_PROTO"
# The headers a WSGI server may read a scheme from (gunicorn's default `secure_scheme_headers`,
# believed from 127.0.0.1; `cdss serve` empties that list, other servers may not).
SCHEME_HEADERS = (FORWARDED_PROTO, "HTTP_X_FORWARDED_PROTOCOL", "HTTP_X_FORWARDED_SSL")
SCHEMES = ("http", "https")
# This service never terminates TLS itself (TLS ends at the proxy): a connection's own scheme.
CONNECTION_SCHEME = "http"


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket appears as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """WSGI middleware: the client address and scheme, believing only the named proxies."""

    def __init__(self, app: WSGIApplication, proxies: Iterable[str | Network]) -> None:
        self._app = app
        self._proxies = tuple(ipaddress.ip_network(proxy) for proxy in proxies)

    def _trusted(self, address: Address) -> bool:
        return any(address in network for network in self._proxies)

    def client_address(self, peer: str, forwarded_for: str) -> str:
        """The client's address: the peer's, or the rightmost one the proxies vouch for."""
        hop = _address(peer)
        if hop is None or not self._trusted(hop):
            return peer
        client = hop
        for entry in reversed(forwarded_for.split(",") if forwarded_for else []):
            hop = _address(entry)
            if hop is None:
                break  # not an address ("unknown", a name): keep the last hop vouched for
            client = hop
            if not self._trusted(hop):
                break
        return str(client)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request as coming from its client."""
        peer = environ.get("REMOTE_ADDR", "")
        peer_address = _address(peer)
        if peer_address is not None and self._trusted(peer_address):
            environ["REMOTE_ADDR"] = self.client_address(peer, environ.get(FORWARDED_FOR, ""))
            scheme = environ.get(FORWARDED_PROTO, "").split(",")[-1].strip().lower()
            if scheme in SCHEMES:
                environ["wsgi.url_scheme"] = scheme
        elif any(header in environ for header in SCHEME_HEADERS):
            # The WSGI server may have taken the scheme from a header this peer had no right to
            # send.
            environ["wsgi.url_scheme"] = CONNECTION_SCHEME
        return self._app(environ, start_response)

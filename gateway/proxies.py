"""The client's address and scheme behind trusted proxies (`AW_TRUSTED_PROXY_HOPS`).

Behind an Ingress or load balancer every connection comes from the proxy, so every request
without a valid key spent one shared anonymous rate-limit budget (gateway.ratelimit keys it by
the client address). Each proxy appends the address it saw to X-Forwarded-For; with N trusted
hops the client is the Nth value from the right (the rightmost address no trusted proxy wrote is
the one the nearest untrusted party used). Werkzeug's ProxyFix reads it, and X-Forwarded-Proto
the same way, so an absolute URL the gateway builds names the scheme the client used.

- 0 hops (the default): no forwarding header is read; a forged X-Forwarded-For changes nothing.
- Fewer values than hops, or a value that is not an IP address (X-Forwarded-Proto: one that is
  not http or https): the header is ignored and the connection's own address (scheme) stays, the
  same answer for every such request; it is never an error, and never a bucket of the client's
  choosing.

gunicorn's own handling of forwarding headers (`forwarded_allow_ips`, which trusts loopback for
X-Forwarded-Proto by default) is turned off by gateway.server: this is the one place.
"""
from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

SCHEMES = frozenset({"http", "https"})


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class _KeepValid:
    """Inside ProxyFix: undoes what it took from a forwarding header that does not hold an IP
    address (X-Forwarded-For) or http/https (X-Forwarded-Proto)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        original = environ.get("werkzeug.proxy_fix.orig") or {}
        remote = environ.get("REMOTE_ADDR")
        if remote != original.get("REMOTE_ADDR") and not _is_address(remote or ""):
            environ["REMOTE_ADDR"] = original.get("REMOTE_ADDR")
        scheme = environ.get("wsgi.url_scheme")
        if scheme != original.get("wsgi.url_scheme"):
            if scheme.lower() in SCHEMES:
                environ["wsgi.url_scheme"] = scheme.lower()
            else:
                environ["wsgi.url_scheme"] = original.get("wsgi.url_scheme")
        return self.app(environ, start_response)


def trust_proxies(wsgi_app, hops: int):
    """`wsgi_app` reading the client's address and scheme from `hops` trusted proxies (unchanged
    at 0)."""
    if hops <= 0:
        return wsgi_app
    return ProxyFix(_KeepValid(wsgi_app), x_for=hops, x_proto=hops)

"""Who may make operator calls: create accounts, and create, list and revoke the keys of any
account without an API key (the command-line tool, `make run`'s first key).

A call from catalog's own host (loopback or a Unix socket: `kubectl exec` into the catalog pod,
`make run`) may; so may one carrying the deployment's operator token (`AW_OPERATOR_TOKEN`, sent as
`x-aw-operator-token`; the tool sends it when the variable is set). Anyone else who can reach
catalog's port could otherwise mint admin keys for any account.
"""
from __future__ import annotations

import hmac
import ipaddress
import urllib.parse

from services.common.errors import ServiceError

OPERATOR_TOKEN_METADATA = "x-aw-operator-token"


def peer_is_local(peer: str) -> bool:
    """Whether a gRPC peer (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`, `unix:/path`) is this host's
    loopback or a Unix socket."""
    kind, _, address = urllib.parse.unquote(peer).partition(":")
    if kind in ("unix", "unix-abstract"):
        return True
    if kind not in ("ipv4", "ipv6"):
        return False
    host = address.rsplit(":", 1)[0].removeprefix("[").removesuffix("]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class OperatorGate:
    def __init__(self, token: str | None):
        self._token = token.encode() if token else None

    def check(self, context) -> None:
        """Returns when the call may act as an operator; UNAUTHORIZED for a wrong token, FORBIDDEN
        for a call from elsewhere without one."""
        sent = next((value for key, value in context.invocation_metadata() or ()
                     if key == OPERATOR_TOKEN_METADATA), None)
        if sent is not None:
            if self._token is not None and hmac.compare_digest(sent.encode(), self._token):
                return
            raise ServiceError("UNAUTHORIZED",
                               "the operator token is not this deployment's AW_OPERATOR_TOKEN")
        if peer_is_local(context.peer()):
            return
        raise ServiceError("FORBIDDEN", "operator calls come from catalog's own host or carry the "
                                        "deployment's AW_OPERATOR_TOKEN")

"""Free loopback ports for systems started on this machine (e2e tests, benchmarks)."""
from __future__ import annotations

import random
import socket
from collections.abc import Container

# Listening ports are chosen below the kernel's ephemeral range (32768-60999 on Linux), where
# outgoing connections get theirs: a client socket cannot take a chosen port before the service
# binds it. Random, so systems started at the same time by other runs rarely meet.
LISTEN_PORTS = (20000, 32700)


def free_port(avoid: Container[int] = ()) -> int:
    for _ in range(500):
        port = random.randrange(*LISTEN_PORTS)
        if port not in avoid and _free(port):
            return port
    raise RuntimeError("no free port")


def free_port_block(size: int = 20) -> int:
    """A base port whose next `size` ports are free now (the services' metrics ports)."""
    for _ in range(500):
        base = random.randrange(LISTEN_PORTS[0], LISTEN_PORTS[1] - size)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False

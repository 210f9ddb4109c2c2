"""The gateway process: gunicorn serving the Flask app (threads per worker, graceful on SIGTERM)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.config import Settings


def main() -> int:
    from services.common.config import load_settings

    settings = load_settings()

    def load():
        from gateway.app import create_app
        return create_app(settings)

    return serve_wsgi(load, settings, "gateway")


def serve_wsgi(load_app: Callable[[], object], settings: Settings, name: str) -> int:
    """Serves the WSGI app `load_app()` returns under gunicorn with the gateway's settings (bench.load
    serves its bare ceiling route through this too, so both run under the same settings)."""
    # Must be set before prometheus_client is imported so every worker's counters are collected.
    created = None
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        created = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aw-gateway-metrics-")
    arbiter = os.getpid()
    from gunicorn.app.base import BaseApplication

    from gateway import parse_errors
    from services.common.logs import setup_logging

    parse_errors.install()

    setup_logging(name, settings.log_level)

    class GatewayServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", settings.gateway_addr)
            self.cfg.set("workers", settings.gateway_workers)
            self.cfg.set("worker_class", "gthread")
            # Workers accept connections unevenly (one took 13 of 16 under bench-load), and a thread is
            # held for the whole backend call: with 8 threads the surplus connections waited a full
            # round trip for one (the single-point p99). Idle threads cost nothing.
            self.cfg.set("threads", int(os.environ.get("AW_GATEWAY_THREADS", "32")))
            self.cfg.set("graceful_timeout", max(1, round(settings.shutdown_grace_seconds)))
            self.cfg.set("timeout", 60)
            self.cfg.set("keepalive", 5)
            self.cfg.set("accesslog", None)
            # Forwarding headers are read by the app, from AW_TRUSTED_PROXY_HOPS proxies alone
            # (gateway.proxies); gunicorn's default took X-Forwarded-Proto from any loopback peer.
            self.cfg.set("forwarded_allow_ips", "")
            self.cfg.set("control_socket_disable", True)  # nothing to control; root fs may be read-only
            self.cfg.set("post_fork", _post_fork)
            self.cfg.set("child_exit", _child_exit)

        def load(self):
            return load_app()

    def _post_fork(server, worker):
        # Each worker exports its own spans (exporter threads do not survive fork).
        from services.common.telemetry import setup_tracing
        setup_tracing(name, settings.otel_exporter)

    def _child_exit(server, worker):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)

    try:
        GatewayServer().run()
    finally:  # the counter files belong to this run; workers leave through here too, so only the arbiter
        if created and os.getpid() == arbiter:
            shutil.rmtree(created, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

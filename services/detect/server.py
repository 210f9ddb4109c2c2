"""The detect process: one shard of the scoring engine."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from anomalywatch.catalog.v1 import storage_pb2_grpc
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.channels import open_channel
from services.common.config import Settings, load_settings
from services.common.grpc_server import ServiceSpec, run
from services.detect.engine import DetectionEngine
from services.detect.servicer import DetectServicer
from services.detect.shard import Shard, Timer

log = logging.getLogger(__name__)
SERVICE_NAMES = (detect_pb2.DESCRIPTOR.services_by_name["DetectService"].full_name,)


def build_spec(settings: Settings, catalog: grpc.Channel | None = None,
               engine: DetectionEngine | None = None) -> tuple[ServiceSpec, Shard]:
    catalog = catalog or open_channel(settings.catalog_addr, settings)
    engine = engine or DetectionEngine()
    shard = Shard(engine, storage_pb2_grpc.StorageServiceStub(catalog), settings.detect_shard,
                  settings.detect_shards, settings.rpc_timeout_seconds,
                  catch_up_grace=settings.catch_up_check_seconds)
    # The catch-up's grace is its period: a series is caught up at the check after the one that
    # first saw it behind, so ingest's normal path has had at least that long.
    timers = [Timer("checkpoint", settings.checkpoint_interval_seconds, shard.checkpoint),
              Timer("staleness", settings.staleness_check_seconds, shard.check_staleness),
              Timer("catch-up", settings.catch_up_check_seconds, shard.catch_up),
              Timer("progress", settings.progress_flush_seconds, shard.flush_progress)]

    def register(server) -> None:
        servicer = DetectServicer(shard, settings.retention_seconds)
        detect_pb2_grpc.add_DetectServiceServicer_to_server(servicer, server)

    def warm_up() -> None:
        engine.warm_up()  # compile before the first real batch
        with stop_requests() as stopping:
            if not shard.restore_when_catalog_answers(stopping):
                return  # stopped while catalog was away: nothing to time
        for timer in timers:
            timer.start()

    def on_stop() -> None:
        for timer in timers:
            timer.stop()
        try:
            shard.flush_progress()
            saved = shard.checkpoint()
        except Exception as error:  # noqa: BLE001 - catalog gone first: the next start replays from the last checkpoint
            log.warning("final checkpoint not saved", extra={"error": repr(error)})
            return
        log.info("final checkpoint", extra={"series": saved})

    spec = ServiceSpec(name="detect", register=register, service_names=SERVICE_NAMES, warm_up=warm_up,
                       on_stop=on_stop, max_workers=16)
    return spec, shard


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while inside, as well as the handlers already installed
    (the runner's, which stops the process once warm-up returns): a restore that waits for
    catalog must not keep the process from stopping. Main thread only, as signal handlers are."""
    stopping = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(sig, frame) -> None:
        stopping.set()
        if callable(previous[sig]):
            previous[sig](sig, frame)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stopping
    finally:
        for sig, earlier in previous.items():
            signal.signal(sig, earlier)


def main() -> int:
    settings = load_settings()
    spec, _ = build_spec(settings)
    return run(spec, settings, settings.detect_listen_addr)


if __name__ == "__main__":
    sys.exit(main())

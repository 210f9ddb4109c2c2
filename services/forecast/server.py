"""The forecast process."""
from __future__ import annotations

import sys

import grpc

from anomalywatch.forecast.v1 import forecast_pb2, forecast_pb2_grpc
from services.common.auth import PrincipalCache
from services.common.channels import open_channel
from services.common.config import Settings, load_settings
from services.common.grpc_server import ServiceSpec, run
from services.common.remote_auth import remote_lookup
from services.forecast.forecaster import warm_up
from services.forecast.servicer import ForecastServicer

SERVICE_NAMES = (forecast_pb2.DESCRIPTOR.services_by_name["ForecastService"].full_name,)


def build_spec(settings: Settings, catalog: grpc.Channel | None = None) -> ServiceSpec:
    catalog = catalog or open_channel(settings.catalog_addr, settings)
    principals = PrincipalCache(remote_lookup(catalog, settings.rpc_timeout_seconds),
                                ttl=settings.key_cache_seconds)

    def register(server) -> None:
        forecast_pb2_grpc.add_ForecastServiceServicer_to_server(ForecastServicer(
            catalog, principals, settings.forecast_history_seconds,
            max(settings.rpc_timeout_seconds, 30.0)), server)

    # Models are numba-compiled on first use: compile before reporting SERVING.
    return ServiceSpec(name="forecast", register=register, service_names=SERVICE_NAMES, warm_up=warm_up,
                       max_workers=4)


def main() -> int:
    settings = load_settings()
    return run(build_spec(settings), settings, settings.forecast_addr)


if __name__ == "__main__":
    sys.exit(main())

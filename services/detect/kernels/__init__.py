"""Numba kernels of the detection engine: pure functions on arrays, no gRPC, SQL or Flask."""

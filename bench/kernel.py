"""Kernel throughput: the full scoring kernel beside a bare numba loop over the same arrays.

    python -m bench.kernel [--points 20000000] [--series 10000] [--batch 100000] [--repeats 3]
                           [--jitter SECONDS | --irregular]

Synthetic points of `--series` series (daily cycle + noise + occasional spikes, per-series scale),
arriving interleaved across series: every round holds one point of each series in a random order.
--jitter moves each timestamp by up to that many seconds either way, as scrapes arrive in
practice (the default, 0, keeps every step exact); --irregular draws every gap from an exponential
distribution with the series' step as its mean, as event-driven series report. They are scored in
batches of `--batch` points (fresh state each repeat), one thread, compile time excluded. The bare
loop reads the same inputs and writes one float per point. Times are the thread's CPU time
(time.thread_time): on a machine shared with other jobs, wall time also counts the time this
thread waited for a core; both loops are timed the same way in the same run.
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from services.detect.kernels import state as state_mod  # noqa: E402
from services.detect.kernels.arrays import allocate_config, allocate_outputs  # noqa: E402
from services.detect.kernels.scoring import score_batch  # noqa: E402
from services.detect.kernels.tunables import DEFAULT_TUNABLES, sensitivity_thresholds  # noqa: E402


@njit(cache=True)
def bare_loop(slots: np.ndarray, ts: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    for i in range(xs.shape[0]):
        out[i] = xs[i] + 1e-9 * ts[i] + slots[i]


def make_points(n_points: int, n_series: int, seed: int = 0, jitter: float = 0.0,
                irregular: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rounds = n_points // n_series
    slots = np.argsort(rng.random((rounds, n_series)), axis=1).astype(np.int64).ravel()
    step = rng.choice([60.0, 300.0, 3600.0], n_series)
    t0 = 1.7e9 + rng.uniform(0, 86400, n_series)
    # round r holds each series' r-th point: its time is the series' start plus r steps, or plus
    # r exponential gaps when irregular
    if irregular:
        elapsed = np.cumsum(rng.exponential(1.0, (rounds, n_series)) * step, axis=0)
    else:
        elapsed = np.arange(rounds, dtype=np.float64)[:, None] * step
    ts = (t0 + elapsed)[np.repeat(np.arange(rounds), n_series), slots]
    if jitter > 0.0:        # below half the smallest step: every series stays in time order
        ts += rng.uniform(-jitter, jitter, ts.size)
    scale = 10.0 ** rng.uniform(-2, 4, n_series)
    phase = 2 * np.pi * (ts % 86400.0) / 86400.0
    xs = scale[slots] * (5.0 + 2.0 * np.sin(phase) + rng.standard_normal(slots.size))
    spikes = rng.random(slots.size) < 1e-4
    xs[spikes] += 20.0 * scale[slots[spikes]]
    return slots, ts, xs


def run_kernel(slots: np.ndarray, ts: np.ndarray, xs: np.ndarray, n_series: int, batch: int) -> float:
    st = state_mod.allocate(n_series)
    cfg = allocate_config(n_series)
    thr = sensitivity_thresholds(DEFAULT_TUNABLES)
    out = allocate_outputs(batch)
    elapsed = 0.0
    for a in range(0, slots.size, batch):
        b = min(a + batch, slots.size)
        o = out if b - a == batch else allocate_outputs(b - a)
        t = time.thread_time()
        score_batch(slots[a:b], ts[a:b], xs[a:b], cfg, st, DEFAULT_TUNABLES, thr, o)
        elapsed += time.thread_time() - t
    return elapsed


def run_bare(slots: np.ndarray, ts: np.ndarray, xs: np.ndarray, batch: int) -> float:
    out = np.empty(batch)
    elapsed = 0.0
    for a in range(0, slots.size, batch):
        b = min(a + batch, slots.size)
        t = time.thread_time()
        bare_loop(slots[a:b], ts[a:b], xs[a:b], out[: b - a])
        elapsed += time.thread_time() - t
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20_000_000)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    timing = ap.add_mutually_exclusive_group()
    timing.add_argument("--jitter", type=float, default=0.0, help="seconds either way, < 30")
    timing.add_argument("--irregular", action="store_true", help="exponential gaps")
    a = ap.parse_args(argv)
    if not 0.0 <= a.jitter < 30.0:
        ap.error("--jitter must be in [0, 30) seconds (half the smallest step)")
    numba.set_num_threads(1)
    slots, ts, xs = make_points(a.points, a.series, jitter=a.jitter, irregular=a.irregular)
    n = slots.size
    # compile (or load from the cache) outside the timings
    run_kernel(slots[: 2 * a.series], ts[: 2 * a.series], xs[: 2 * a.series], a.series, a.series)
    run_bare(slots[:1000], ts[:1000], xs[:1000], 1000)
    k_times, b_times = [], []
    for _ in range(a.repeats):
        k_times.append(run_kernel(slots, ts, xs, a.series, a.batch))
        b_times.append(run_bare(slots, ts, xs, a.batch))
    k_rate = n / statistics.median(k_times)
    b_rate = n / statistics.median(b_times)
    timing = ("irregular (exponential) gaps" if a.irregular else
              f"timestamps jittered by up to {a.jitter:g} s" if a.jitter else "exact steps")
    print(f"points {n:,} over {a.series:,} series, interleaved arrival, {timing}, batches of {a.batch:,}, "
          f"1 thread, thread CPU time, medians of {a.repeats}")
    print(f"  scoring kernel : {k_rate / 1e6:8.1f} M points/s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in k_times)} s)")
    print(f"  bare loop      : {b_rate / 1e6:8.1f} M points/s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in b_times)} s)")
    print(f"  ratio          : {100.0 * k_rate / b_rate:8.1f} % of the bare loop")
    print(f"  state          : {state_mod.bytes_per_series()} bytes per series")
    print("targets: >= 30 M points/s, >= 5 % of the bare loop, <= 2048 bytes per series")
    return 0


if __name__ == "__main__":
    sys.exit(main())

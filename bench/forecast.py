"""M4 Hourly forecast benchmark (`make bench-forecast`).

Every series gets an hourly grid ending just before its test part and goes through
`services.forecast.forecaster.forecast` (the service's code path) with horizon 48 and confidence
0.95. Per model: MASE (scaled by the in-sample mean absolute seasonal difference at lag 24),
sMAPE, the coverage of the 95 % interval, and per series the median and p95 wall-clock
milliseconds and the median and p95 CPU milliseconds of the process (`time.process_time`: on a
shared machine the wall clock also counts time spent waiting for a core, CPU time does not).
statsforecast's JIT is warmed up first and not counted.

Every model runs on all 414 series (about 7 CPU minutes in all, AutoARIMA's half a second per
series most of it); `--arima-every k` runs AutoARIMA on every k-th series only, for quicker
runs. Because rows can then cover different series, a second table compares `auto` with each
model on exactly the series both forecast: mean MASE and sMAPE of each, and on how many series
`auto`'s MASE is lower.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HORIZON = 48
SEASON = 24
CONFIDENCE = 0.95
START = 1_600_000_000.0  # an arbitrary hour-aligned origin for every series' grid
DEFAULT_MODELS = ("seasonal_naive", "ets", "theta", "mstl", "arima", "auto")


@dataclass
class Series:
    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class Score:
    mase: dict[str, float] = field(default_factory=dict)  # by series name
    smape: dict[str, float] = field(default_factory=dict)
    coverage: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)  # wall clock
    cpu_ms: list[float] = field(default_factory=list)  # CPU time of the process
    chosen: dict[str, int] = field(default_factory=dict)
    failures: int = 0


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[1:]


def load(data_dir: Path) -> list[Series]:
    train = _rows(data_dir / "Hourly-train.csv")
    test = _rows(data_dir / "Hourly-test.csv")
    out = []
    for a, b in zip(train, test, strict=True):
        assert a[0] == b[0], "train and test files are not in the same order"
        tr = np.array([float(x) for x in a[1:] if x not in ("", "NA")])
        te = np.array([float(x) for x in b[1:] if x not in ("", "NA")])
        out.append(Series(a[0], tr, te[:HORIZON]))
    return out


def score_one(s: Series, model: str, sc: Score) -> None:
    from services.forecast.forecaster import forecast

    t = START + 3600.0 * np.arange(s.train.size)
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        r = forecast(t, s.train, HORIZON, model=model, confidence=CONFIDENCE)
    except Exception as exc:  # noqa: BLE001 - report and count, keep benchmarking
        sc.failures += 1
        print(f"  {model} failed on {s.name}: {exc}", file=sys.stderr)
        return
    sc.cpu_ms.append((time.process_time() - c0) * 1000.0)
    sc.ms.append((time.perf_counter() - t0) * 1000.0)
    y, f = s.test, r.values
    scale = float(np.mean(np.abs(s.train[SEASON:] - s.train[:-SEASON])))
    sc.mase[s.name] = float(np.mean(np.abs(y - f))) / scale
    denom = np.abs(y) + np.abs(f)
    sc.smape[s.name] = float(200.0 * np.mean(np.where(denom > 0, np.abs(y - f) / denom, 0.0)))
    sc.coverage.append(float(np.mean((y >= r.lower) & (y <= r.upper))))
    sc.chosen[r.chosen_model] = sc.chosen.get(r.chosen_model, 0) + 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/bench/forecast/m4-hourly"))
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated models (default: %(default)s)")
    p.add_argument("--limit", type=int, default=0, help="only the first N series (0: all)")
    p.add_argument("--every", type=int, default=1, help="only every k-th series")
    p.add_argument("--arima-every", type=int, default=1,
                   help="run arima on every k-th of the selected series (default 1: all)")
    args = p.parse_args(argv)

    from services.forecast.forecaster import warm_up

    series = load(args.data)[:: args.every]
    if args.limit:
        series = series[: args.limit]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    t_warm = time.perf_counter()
    warm_up()
    print(f"M4 Hourly: {len(series)} series, horizon {HORIZON}, season {SEASON}, "
          f"{int(CONFIDENCE * 100)} % intervals (warm-up {time.perf_counter() - t_warm:.1f} s)")
    header = (f"{'model':<15}{'series':>7}{'MASE':>8}{'sMAPE':>8}{'cov95':>8}{'med ms':>9}"
              f"{'p95 ms':>9}{'med cpu':>9}{'p95 cpu':>9}")
    print(header)
    print("-" * len(header))
    results: dict[str, Score] = {}
    t_all = time.perf_counter()
    for model in models:
        subset = series[:: args.arima_every] if model == "arima" else series
        sc = results[model] = Score()
        for s in subset:
            score_one(s, model, sc)
        print(f"{model:<15}{len(sc.mase):>7}{_mean(sc.mase.values()):>8.3f}"
              f"{_mean(sc.smape.values()):>8.2f}{_mean(sc.coverage):>8.3f}"
              f"{_pct(sc.ms, 50):>9.1f}{_pct(sc.ms, 95):>9.1f}"
              f"{_pct(sc.cpu_ms, 50):>9.1f}{_pct(sc.cpu_ms, 95):>9.1f}"
              + (f"  ({sc.failures} failed)" if sc.failures else ""), flush=True)
    total = time.perf_counter() - t_all
    if "auto" not in results:
        print(f"RESULT total_s {total:.0f}")
        return 0
    a = results["auto"]
    picks = ", ".join(f"{k} {v}" for k, v in sorted(a.chosen.items()))
    print(f"auto chose: {picks}")
    print_paired(a, {m: sc for m, sc in results.items() if m != "auto"})
    print(f"RESULT auto MASE {_mean(a.mase.values()):.3f} sMAPE {_mean(a.smape.values()):.2f} "
          f"coverage95 {_mean(a.coverage):.3f} median_ms {_pct(a.ms, 50):.1f} "
          f"p95_ms {_pct(a.ms, 95):.1f} median_cpu_ms {_pct(a.cpu_ms, 50):.1f} "
          f"p95_cpu_ms {_pct(a.cpu_ms, 95):.1f} total_s {total:.0f}")
    return 0


def print_paired(auto: Score, others: dict[str, Score]) -> None:
    """`auto` against each model on the series both forecast (the fair comparison)."""
    if not others:
        return
    print()
    header = (f"{'auto vs':<15}{'series':>7}{'MASE':>8}{'auto':>8}{'sMAPE':>8}{'auto':>8}"
              f"{'auto better':>13}")
    print(header)
    print("-" * len(header))
    for model, sc in others.items():
        both = [name for name in sc.mase if name in auto.mase]
        if not both:
            continue
        better = sum(auto.mase[n] < sc.mase[n] for n in both)
        print(f"{model:<15}{len(both):>7}{_mean(sc.mase[n] for n in both):>8.3f}"
              f"{_mean(auto.mase[n] for n in both):>8.3f}"
              f"{_mean(sc.smape[n] for n in both):>8.2f}"
              f"{_mean(auto.smape[n] for n in both):>8.2f}"
              f"{f'{better}/{len(both)}':>13}")


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return float(np.mean(xs)) if xs else math.nan


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else math.nan


if __name__ == "__main__":
    sys.exit(main())

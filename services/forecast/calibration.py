"""Prediction intervals at any confidence, calibrated on held-out history.

The model's own intervals give a per-step sigma (`PointForecast.sigma`); its shape over the
horizon is trusted, its size is not (MSTL's and ETS's are often too narrow on real data). On the
held-out tail of the history the forecast errors are divided by the sigma the model gave for them;
these normalized scores say how many "model sigmas" the errors really were. The interval is then

    mean +/- factor * z(confidence) * sigma,   factor = Q_p(scores) / z(p)

with Q_p the empirical (conformal, rounded-up) quantile of the scores at p = the confidence, or
the highest level the number of scores can estimate when the confidence is higher (extrapolated
with the normal shape). The factor is bounded to [MIN_FACTOR, MAX_FACTOR]: intervals are only ever
widened (one held-out window is too little evidence to narrow what the model's own error model
says; and `auto`'s chosen model had the smallest held-out errors, which flatters it), and one odd
holdout cannot explode them. On M4 Hourly, allowing a factor down to 0.8 gave 95 % coverage of
0.944 against 0.956 without narrowing. With fewer than MIN_SCORES scores the model's own
interval is used as is.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

MIN_SCORES = 8
MIN_FACTOR = 1.0
MAX_FACTOR = 4.0


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: the half-width in sigmas of a central interval."""
    return float(norm.ppf(0.5 + confidence / 2.0))


def scale_factor(errors: np.ndarray, sigma: np.ndarray, confidence: float) -> float:
    """How much to widen (or narrow) the model's interval, from held-out errors."""
    ok = np.isfinite(errors) & np.isfinite(sigma) & (sigma > 0)
    scores = np.abs(errors[ok]) / sigma[ok]
    n = scores.size
    if n < MIN_SCORES:
        return 1.0
    # the conformal quantile at level p is the ceil((n + 1) p)-th smallest score; it exists only
    # while that rank is at most n
    p = min(confidence, n / (n + 1.0))
    rank = min(n, math.ceil((n + 1) * p))
    q = float(np.partition(scores, rank - 1)[rank - 1])
    factor = q / z_value(p)
    return float(min(MAX_FACTOR, max(MIN_FACTOR, factor)))


def fallback_sigma(errors: np.ndarray, h: int) -> np.ndarray:
    """Sigma for a model without its own interval: the holdout RMSE growing like sqrt(step)."""
    e = errors[np.isfinite(errors)]
    rmse = float(np.sqrt(np.mean(e**2))) if e.size else 0.0
    k = np.arange(1, h + 1, dtype=np.float64)
    ref = math.sqrt((e.size + 1) / 2.0) if e.size else 1.0
    return rmse * np.sqrt(k) / ref


def interval(mean: np.ndarray, sigma: np.ndarray, confidence: float,
             factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The (lower, upper) bounds of the central interval at `confidence`."""
    half = factor * z_value(confidence) * np.where(np.isfinite(sigma), np.maximum(sigma, 0.0), 0.0)
    return mean - half, mean + half

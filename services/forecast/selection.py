"""Held-out evaluation, shared by `auto` (to choose) and by calibration (to size intervals).

The last `H` grid points are held out (`holdout_length`): a model is fitted on the rest and
forecasts them. `auto` fits each fast candidate this way and keeps the one with the smallest mean
absolute error; the same held-out errors then calibrate its interval. Only when even the best
fast candidate forecast the holdout worse than repeating the previous season does in-sample
(`needs_slow_candidates`: a held-out MASE above 1) is AutoARIMA, 20x slower, tried as well: on
M4 Hourly that is about a quarter of the series, and arima wins about half of those.

The final forecast, from the whole history, reuses the holdout's fit (`final_forecast`): a
statsforecast model keeps the parameters it found and only runs its states through the held-out
points, instead of searching again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.forecast.models import PointForecast, StatsFit, StatsModel
from services.forecast.registry import Model

# candidates `auto` chooses from: fast, and together they cover smooth, seasonal and erratic series
AUTO_CANDIDATES: tuple[str, ...] = ("mstl", "theta", "seasonal_naive")
# tried as well when the fast ones all forecast the holdout poorly (`needs_slow_candidates`)
AUTO_SLOW_CANDIDATES: tuple[str, ...] = ("arima",)
MIN_FIT_POINTS = 8  # below this, no model is fitted on a shortened history
MIN_HOLDOUT = 4


@dataclass(frozen=True)
class Holdout:
    model: str
    errors: np.ndarray  # actual - forecast on the held-out points
    sigma: np.ndarray  # the model's sigma for those points
    fit: StatsFit | None = None  # the fit on the shortened history (None: not reusable)

    @property
    def mae(self) -> float:
        return float(np.mean(np.abs(self.errors)))


def holdout_length(n: int, h: int, seasons: list[int]) -> int:
    """How many of the last points to hold out: the horizon, but at most a quarter of the history
    and at most two of the longest season (or 48 points without one); 0 when too short."""
    cap = 2 * seasons[-1] if seasons else 48
    length = min(h, n // 4, max(cap, 48))
    if length < MIN_HOLDOUT or n - length < MIN_FIT_POINTS:
        return 0
    return length


def evaluate(model: Model, y: np.ndarray, length: int, seasons: list[int]) -> Holdout | None:
    """Fit on all but the last `length` points and compare with them; None if the fit fails or
    the model needs a season the shortened history cannot support."""
    if length <= 0 or (model.needs_season and not seasons):
        return None
    train, test = y[:-length], y[-length:]
    fit = None
    try:
        if isinstance(model, StatsModel):
            fit = model.fit(train, seasons)
            fc: PointForecast = fit.predict(length)
        else:
            fc = model.predict(train, length, seasons)
    except Exception:  # noqa: BLE001 - a candidate that cannot fit is simply not chosen
        return None
    errors = test - fc.mean
    if not np.all(np.isfinite(errors)):
        return None
    return Holdout(model=model.name, errors=errors, sigma=fc.sigma, fit=fit)


def final_forecast(model: Model, holdout: Holdout | None, y: np.ndarray, h: int,
                   seasons: list[int]) -> PointForecast:
    """The forecast from the whole history `y`: the holdout's fit carried forward when it used
    the same seasons, else (and if carrying it forward fails) a fresh fit."""
    if holdout is not None and holdout.fit is not None and holdout.fit.seasons == seasons:
        try:
            return holdout.fit.forward(y, h)
        except Exception:  # noqa: BLE001 - the fresh fit below reports its own failure
            pass
    return model.predict(y, h, seasons)


def needs_slow_candidates(best: Holdout, y: np.ndarray, length: int, seasons: list[int]) -> bool:
    """True when the best held-out MAE exceeds the mean absolute seasonal difference of the
    fitted part (the in-sample error of repeating the previous season; lag 1 without a season)."""
    train = y[:-length]
    lag = seasons[0] if seasons else 1
    if train.size <= lag:
        return False
    return best.mae > float(np.mean(np.abs(train[lag:] - train[:-lag])))


def rank(results: list[Holdout]) -> list[Holdout]:
    """Best first (smallest held-out MAE; ties keep the candidates' order)."""
    return sorted(results, key=lambda r: (r.mae if math.isfinite(r.mae) else math.inf))

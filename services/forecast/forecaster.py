"""`forecast()`: the one code path of the gRPC service, the CLI and the benchmark.

Steps: validate the model and confidence; clean the history and require `MIN_POINTS` observed
points; infer the step and put the history on a regular grid (`services.forecast.grid`); choose
seasons (`services.forecast.seasons`); parse the horizon; hold out the end of the history to choose
(`auto`) and to calibrate intervals (`services.forecast.selection`, `.calibration`); fit on the
whole history (reusing the holdout's fit) and continue the grid.

The result's `model` is the model actually used: the requested name, or `auto(<chosen>)` for
`auto` (`chosen_model` holds `<chosen>` alone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.forecast import calibration
from services.forecast.errors import ForecastError, InsufficientData, ModelFailed, ModelNotApplicable
from services.forecast.grid import DEFAULT_MAX_POINTS, clean, in_window, infer_step, regularize
from services.forecast.horizon import check_confidence, check_reach, horizon_steps, read_horizon
from services.forecast.registry import AUTO, Model, ModelRegistry, default_registry
from services.forecast.seasons import choose_seasons, natural_seasons
from services.forecast.selection import (
    AUTO_CANDIDATES,
    AUTO_SLOW_CANDIDATES,
    Holdout,
    evaluate,
    final_forecast,
    holdout_length,
    needs_slow_candidates,
    rank,
)

MIN_POINTS = 10  # observed points (after dropping non-finite ones and merging duplicates)
ORDINARY_MAGNITUDES = (1e-100, 1e100)  # largest |value| of a history fitted as it is


@dataclass(frozen=True)
class ForecastResult:
    timestamps: np.ndarray  # unix seconds, continuing the history's grid
    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    model: str  # the model used: "mstl", or "auto(mstl)" when auto chose mstl
    chosen_model: str  # the statistical/foundation model that produced the values
    step_seconds: float
    confidence: float
    seasons: tuple[int, ...]  # the season lengths used, in steps
    history_points: int  # grid points the model was fitted on


def forecast(
    timestamps: np.ndarray,
    values: np.ndarray,
    horizon: str | int,
    model: str = AUTO,
    confidence: float = 0.95,
    registry: ModelRegistry | None = None,
    max_history_points: int = DEFAULT_MAX_POINTS,
) -> ForecastResult:
    """Forecast `horizon` steps after the last point of (`timestamps`, `values`).

    Raises the errors of `services.forecast.errors`: UnknownModel, ModelUnavailable,
    InvalidConfidence, InsufficientData, InvalidHorizon, ModelNotApplicable, ModelFailed
    (all subclasses of ForecastError, which carries the API error `code`).
    """
    registry = registry or default_registry()
    registry.check(model)
    confidence = check_confidence(confidence)
    asked = read_horizon(horizon)
    t, v = clean(np.asarray(timestamps), np.asarray(values))
    observed = int(np.unique(t).size)
    if observed < MIN_POINTS:
        raise InsufficientData(MIN_POINTS, observed)
    step = infer_step(t)
    span = int(np.rint((t[-1] - t[0]) / step)) + 1
    n = min(span, max_history_points)
    seasons = choose_seasons(step, n)
    # Models are fitted on an extreme history divided by a power of two (exact in floating point)
    # that brings its largest magnitude near 1: values like 1e300 or 1e-300 overflow or underflow
    # inside the libraries' arithmetic, and the forecast is scaled back afterwards. Scaled before
    # the grid is made: averaging two 1.7e308 in a slot, or filling a gap from -1.7e308 to
    # 1.7e308, overflows too.
    scale = _scale(v[in_window(t, step, max_history_points)])
    grid = regularize(t, v / scale, season=seasons[0] if seasons else None, step_seconds=step,
                      max_points=max_history_points)
    if grid.observed < MIN_POINTS:  # the other points lie before the window: nothing to fit
        raise InsufficientData(MIN_POINTS, grid.observed,
                               f"within the last {max_history_points} steps of {step:g} s")
    y = grid.values
    h = horizon_steps(asked, step)
    check_reach(asked, h, grid.last_timestamp, grid.step_seconds)

    length = holdout_length(y.size, h, seasons)
    hold_seasons = choose_seasons(step, y.size - length)
    if model == AUTO:
        used, chosen, holdout, fc = _auto(registry, y, h, seasons, length, hold_seasons)
        label = f"{AUTO}({chosen})"
    else:
        used = registry.resolve(model)
        _check_applicable(used, step, y.size, seasons)
        holdout = evaluate(used, y, length, hold_seasons)
        try:
            fc = final_forecast(used, holdout, y, h, seasons)
        except ForecastError:
            raise
        except Exception as exc:  # noqa: BLE001 - a library failure, reported without a trace
            raise ModelFailed(model, type(exc).__name__) from exc
        chosen = label = model

    sigma = fc.sigma
    if not np.all(np.isfinite(sigma)):
        sigma = calibration.fallback_sigma(holdout.errors if holdout else np.zeros(0), h)
    factor = (calibration.scale_factor(holdout.errors, holdout.sigma, confidence)
              if holdout is not None else 1.0)
    lower, upper = calibration.interval(fc.mean, sigma, confidence, factor)
    values, lower, upper = _unscale(fc.mean, lower, upper, scale, chosen)
    return ForecastResult(
        timestamps=grid.future(h), values=values, lower=lower, upper=upper, model=label,
        chosen_model=chosen, step_seconds=grid.step_seconds, confidence=confidence,
        seasons=tuple(seasons), history_points=int(y.size),
    )


def _scale(y: np.ndarray) -> float:
    """1 for a history of ordinary magnitudes (the models' own tolerances are absolute: their
    answers there stay exactly as they were), else a power of two at most the largest magnitude
    of `y` and more than half of it (2 ** 1024 would overflow)."""
    peak = float(np.max(np.abs(y)))
    if peak == 0.0 or ORDINARY_MAGNITUDES[0] <= peak <= ORDINARY_MAGNITUDES[1]:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(peak)[1]) - 1))


def _unscale(mean: np.ndarray, lower: np.ndarray, upper: np.ndarray, scale: float,
             model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forecast in the history's units. A model's mean must be finite; scaled back, a value or
    bound beyond the largest float (a forecast of a history near ±1.7e308 a little past it) is held
    at it, so every number sent is finite and the band stays ordered."""
    if not np.all(np.isfinite(mean)):
        raise ModelFailed(model, "the forecast is not a finite number")
    top = np.finfo(np.float64).max
    with np.errstate(over="ignore"):
        values = np.clip(mean * scale, -top, top)
        lower, upper = lower * scale, upper * scale
    return values, np.clip(lower, -top, values), np.clip(upper, values, top)


def _check_applicable(model: Model, step: float, n: int, seasons: list[int]) -> None:
    if model.needs_season and not seasons:
        natural = natural_seasons(step)
        if not natural:
            raise ModelNotApplicable(model.name, f"a step of {step:g} s has no daily, weekly or "
                                     "yearly cycle of a whole number of steps")
        raise InsufficientData(2 * natural[0], n, f"two full seasons of {natural[0]} steps")


def _auto(registry: ModelRegistry, y: np.ndarray, h: int, seasons: list[int], length: int,
          hold_seasons: list[int]):
    """Evaluate the fast candidates on the holdout (the slow ones too when the fast ones did
    poorly) and forecast with the best from the whole history; if that fails, the next best (the
    result names whichever produced the values)."""
    candidates = [registry.resolve(name) for name in AUTO_CANDIDATES]
    results = [r for m in candidates if (r := evaluate(m, y, length, hold_seasons)) is not None]
    if results and needs_slow_candidates(rank(results)[0], y, length, hold_seasons):
        slow = [registry.resolve(name) for name in AUTO_SLOW_CANDIDATES]
        candidates += slow
        results += [r for m in slow if (r := evaluate(m, y, length, hold_seasons)) is not None]
    by_name = {m.name: m for m in candidates}
    order: list[tuple[Model, Holdout | None]] = [(by_name[r.model], r) for r in rank(results)]
    # no usable holdout (short history): candidates in their listed order, uncalibrated
    order += [(m, None) for m in candidates if m.name not in {r.model for r in results}]
    last_error: Exception | None = None
    for m, holdout in order:
        if m.needs_season and not seasons:
            continue
        try:
            return m, m.name, holdout, final_forecast(m, holdout, y, h, seasons)
        except Exception as exc:  # noqa: BLE001 - try the next candidate
            last_error = exc
    raise InsufficientData(MIN_POINTS * 2, int(y.size), f"no model could be fitted: {last_error}")


def warm_up(registry: ModelRegistry | None = None) -> None:
    """Compile statsforecast's numba code once (a few seconds) so the first request is fast:
    runs `auto` and every statistical model on a small synthetic hourly series."""
    registry = registry or default_registry()
    rng = np.random.default_rng(0)
    n = 24 * 15
    t = 1_700_000_000.0 + 3600.0 * np.arange(n)
    y = 10 + np.sin(2 * np.pi * np.arange(n) / 24) + 0.1 * rng.standard_normal(n)
    forecast(t, y, 24, AUTO, 0.9, registry)
    for info in registry.list_models():
        if info.available and info.kind == "statistical":
            forecast(t[-24 * 3:], y[-24 * 3:], 6, info.name, 0.9, registry)

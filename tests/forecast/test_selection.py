from dataclasses import replace

import numpy as np
import pytest

from services.forecast import models
from services.forecast.forecaster import forecast
from services.forecast.models import STATS_MODELS, THETA_MAX_POINTS
from services.forecast.selection import (
    AUTO_CANDIDATES,
    AUTO_SLOW_CANDIDATES,
    Holdout,
    evaluate,
    final_forecast,
    needs_slow_candidates,
)

T0 = 1_700_000_000.0


def hourly(n, seed=0):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    y = 50 + 10 * np.sin(2 * np.pi * i / 24) + 0.02 * i + rng.standard_normal(n)
    return T0 + 3600.0 * i, y


@pytest.fixture
def fit_calls(monkeypatch):
    """Counts the statsforecast fits (the expensive part) per model name."""
    calls = []
    original = models.StatsModel.fit

    def counting(self, y, seasons):
        calls.append(self.name)
        return original(self, y, seasons)

    monkeypatch.setattr(models.StatsModel, "fit", counting)
    return calls


@pytest.mark.parametrize("model", ["theta", "mstl", "ets", "arima"])
def test_single_model_fits_once(model, fit_calls):
    # the holdout's fit is carried forward to the whole history instead of fitting again
    t, y = hourly(24 * 16)
    r = forecast(t, y, 24, model=model)
    assert fit_calls == [model] and r.values.size == 24


def test_auto_fits_each_candidate_once(fit_calls):
    t, y = hourly(24 * 16)
    r = forecast(t, y, 24)
    # seasonal naive has no parameters to reuse: when it wins it is simply fitted again (cheap)
    extra = [r.chosen_model] if r.chosen_model == "seasonal_naive" else []
    assert sorted(fit_calls) == sorted([*AUTO_CANDIDATES, *extra])


@pytest.mark.parametrize("model", ["theta", "mstl", "seasonal_naive"])
def test_forward_close_to_a_fresh_fit(model):
    _, y = hourly(24 * 30, seed=4)
    spec = STATS_MODELS[model]
    seasons = [24, 168]
    held = evaluate(spec, y, 48, seasons)
    reused = final_forecast(spec, held, y, 48, seasons)
    fresh = spec.predict(y, 48, seasons)
    assert np.all(np.isfinite(reused.mean)) and np.all(np.isfinite(reused.sigma))
    # the same parameters a few dozen points later: the forecasts barely differ (noise sd is 1)
    assert np.mean(np.abs(reused.mean - fresh.mean)) < 0.5


def test_windowed_fit_keeps_its_first_point_when_carried_forward():
    _, y = hourly(24 * 30)
    fit = STATS_MODELS["theta"].fit(y[:-48], [24])
    assert fit.start == y.size - 48 - THETA_MAX_POINTS
    assert fit.forward(y, 12).mean.size == 12


class _Exploding:
    seasons = [24]

    def forward(self, y, h):
        raise RuntimeError("cannot carry this fit forward")


def test_final_forecast_fits_afresh_when_it_cannot_reuse():
    _, y = hourly(24 * 16)
    spec = STATS_MODELS["theta"]
    fresh = spec.predict(y, 24, [24])
    errors = np.zeros(24)
    exploding = Holdout("theta", errors, np.ones(24), fit=_Exploding())
    np.testing.assert_allclose(final_forecast(spec, exploding, y, 24, [24]).mean, fresh.mean)
    # a fit made with other seasons (a shorter history) is not reused
    other = replace(exploding, fit=spec.fit(y[:-24], [24]))
    np.testing.assert_allclose(final_forecast(spec, other, y, 24, [24, 168]).mean,
                               spec.predict(y, 24, [24, 168]).mean)
    np.testing.assert_allclose(final_forecast(spec, None, y, 24, [24]).mean, fresh.mean)


def test_auto_tries_arima_only_when_the_fast_candidates_forecast_the_holdout_poorly(fit_calls):
    t, y = hourly(24 * 16)
    forecast(t, y, 24)
    assert "arima" not in fit_calls  # a clean daily cycle: the fast candidates do well
    fit_calls.clear()
    y = y.copy()
    y[-24:] += 15 * np.sin(np.arange(24) / 3.0)  # the held-out day breaks away from the cycle
    r = forecast(t, y, 24)
    assert "arima" in fit_calls and r.chosen_model in (*AUTO_CANDIDATES, *AUTO_SLOW_CANDIDATES)


def test_needs_slow_candidates_compares_with_seasonal_differences():
    y = np.tile([0.0, 2.0], 20)  # seasonal differences at lag 2 are 0, at lag 1 they are 2
    good = Holdout("x", np.full(4, 0.5), np.ones(4))
    assert needs_slow_candidates(good, y, 4, [2])
    assert not needs_slow_candidates(good, y, 4, [])

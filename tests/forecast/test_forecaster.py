import numpy as np
import pytest

from services.forecast.errors import (
    InsufficientData,
    InvalidConfidence,
    InvalidHorizon,
    ModelNotApplicable,
    ModelUnavailable,
    UnknownModel,
)
from services.forecast.forecaster import MIN_POINTS, forecast
from services.forecast.registry import ModelRegistry, list_models
from services.forecast.selection import AUTO_CANDIDATES

T0 = 1_700_000_000.0


def hourly(n, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    y = 50 + 10 * np.sin(2 * np.pi * i / 24) + 0.01 * i + noise * rng.standard_normal(n)
    return T0 + 3600.0 * i, y


def test_models_listed_with_foundation_unavailable():
    infos = {m.name: m for m in list_models(ModelRegistry({}))}
    for name in ("auto", "seasonal_naive", "ets", "theta", "mstl", "arima"):
        assert infos[name].available
    for name in ("timesfm-v2", "chronos-bolt"):
        assert not infos[name].available and infos[name].reason_if_unavailable


def test_foundation_needs_package_and_weights(tmp_path):
    # weights configured but package missing: still unavailable, and nothing else is used
    reg = ModelRegistry({"AW_TIMESFM_CHECKPOINT": str(tmp_path)})
    assert not {m.name: m for m in reg.list_models()}["timesfm-v2"].available
    t, y = hourly(24 * 10)
    with pytest.raises(ModelUnavailable) as err:
        forecast(t, y, 24, model="timesfm-v2", registry=reg)
    assert err.value.code == "MODEL_UNAVAILABLE"
    assert "auto" in err.value.available and "timesfm-v2" not in err.value.available
    assert "mstl" in str(err.value)


def test_unknown_model():
    t, y = hourly(100)
    with pytest.raises(UnknownModel):
        forecast(t, y, 5, model="prophet")


def test_a_long_model_name_is_quoted_short_and_the_available_models_are_still_named():
    """The client sees at most 200 characters of a message: a long name must not push out the
    models it could use."""
    t, y = hourly(100)
    with pytest.raises(UnknownModel) as err:
        forecast(t, y, 5, model="x" * 10_000)
    message = str(err.value)
    assert len(message) <= 200 and "auto" in message and "x" * 40 + "..." in message


def test_insufficient_data_says_minimum():
    t, y = hourly(MIN_POINTS - 1)
    with pytest.raises(InsufficientData) as err:
        forecast(t, y, 3)
    assert err.value.minimum_points == MIN_POINTS and err.value.got == MIN_POINTS - 1
    assert err.value.code == "INSUFFICIENT_DATA" and str(MIN_POINTS) in str(err.value)


def test_mstl_needs_two_seasons():
    t, y = hourly(30)
    with pytest.raises(InsufficientData) as err:
        forecast(t, y, 3, model="mstl")
    assert err.value.minimum_points == 48


def test_mstl_not_applicable_without_natural_cycle():
    step = 38400
    t = T0 + step * np.arange(100.0)
    with pytest.raises(ModelNotApplicable):
        forecast(t, np.sin(np.arange(100.0)), 3, model="mstl")


def test_bad_confidence_and_horizon():
    t, y = hourly(100)
    with pytest.raises(InvalidConfidence):
        forecast(t, y, 5, confidence=0.4)
    with pytest.raises(InvalidHorizon):
        forecast(t, y, "5001h")


@pytest.mark.parametrize("bad", ["forever", "0m", -5, True])
def test_a_malformed_horizon_is_refused_before_the_history_is_judged(bad):
    # the caller's request is wrong whatever the series holds: 400, not 422 for a short series
    t, y = hourly(MIN_POINTS - 1)
    with pytest.raises(InvalidHorizon):
        forecast(t, y, bad)


@pytest.mark.parametrize("model", ["seasonal_naive", "ets", "theta", "mstl", "arima", "auto"])
def test_every_model_continues_the_grid(model):
    t, y = hourly(24 * 12)
    r = forecast(t, y, "1d", model=model, confidence=0.9)
    assert r.values.size == 24 and r.step_seconds == 3600.0
    np.testing.assert_allclose(r.timestamps, t[-1] + 3600.0 * np.arange(1, 25))
    assert np.all(r.lower <= r.values) and np.all(r.values <= r.upper)
    assert r.seasons == (24,)
    if model == "auto":
        assert r.model == f"auto({r.chosen_model})" and r.chosen_model in AUTO_CANDIDATES
    else:
        assert r.model == r.chosen_model == model
    # the forecast follows the daily cycle
    truth = 50 + 10 * np.sin(2 * np.pi * np.arange(24 * 12, 24 * 13) / 24)
    assert np.mean(np.abs(r.values - truth)) < 4.0


def test_intervals_widen_with_confidence():
    t, y = hourly(24 * 14, seed=3, noise=2.0)
    widths = []
    for c in (0.5, 0.8, 0.95, 0.999):
        r = forecast(t, y, 48, model="mstl", confidence=c)
        widths.append(np.mean(r.upper - r.lower))
    assert all(a < b for a, b in zip(widths, widths[1:], strict=False))


def test_coverage_on_synthetic_seasonal_data():
    covered = []
    for seed in range(12):
        t, y = hourly(24 * 21 + 48, seed=seed, noise=2.0)
        r = forecast(t[:-48], y[:-48], 48, confidence=0.9)
        covered.append(np.mean((y[-48:] >= r.lower) & (y[-48:] <= r.upper)))
    assert 0.8 <= np.mean(covered) <= 0.98


def test_gappy_jittered_minute_data():
    rng = np.random.default_rng(7)
    n = 1440 * 3
    i = np.arange(n)
    t = T0 + 60.0 * i + rng.uniform(-2, 2, n)
    y = 100 + 20 * np.sin(2 * np.pi * i / 1440) + rng.standard_normal(n)
    keep = np.ones(n, bool)
    keep[2000:2100] = False
    r = forecast(t[keep], y[keep], "30m")
    assert r.step_seconds == 60.0 and r.values.size == 30
    assert r.seasons == (60, 1440)
    truth = 100 + 20 * np.sin(2 * np.pi * np.arange(n, n + 30) / 1440)
    assert np.mean(np.abs(r.values - truth)) < 3.0


def test_short_series_auto_still_forecasts():
    t, y = hourly(MIN_POINTS)
    r = forecast(t, y, 3)
    assert r.values.size == 3 and np.all(np.isfinite(r.values))
    assert r.chosen_model != "mstl"  # no season is supported by 10 points


def _fake_foundation(environ, calls):
    from services.forecast.foundation import FoundationModel
    from services.forecast.models import PointForecast

    def runner(loaded, y, h):
        calls.append(loaded)
        return PointForecast(mean=np.full(h, y[-1]), sigma=np.ones(h))

    # 'json' is always importable: stands for an installed foundation package
    return FoundationModel("fake-fm", "test double", "json", "AW_FAKE_CHECKPOINT",
                           loader=lambda path: f"loaded:{path}", runner=runner, environ=environ)


def test_configured_foundation_model_is_available_and_really_run(tmp_path):
    calls = []
    env = {"AW_FAKE_CHECKPOINT": str(tmp_path)}
    reg = ModelRegistry(env, foundation=[_fake_foundation(env, calls)])
    assert {m.name: m for m in reg.list_models()}["fake-fm"].available
    t, y = hourly(24 * 5)
    r = forecast(t, y, 6, model="fake-fm", registry=reg)
    assert r.model == "fake-fm" and calls == [f"loaded:{tmp_path}"] * 2  # holdout + final fit
    np.testing.assert_allclose(r.values, y[-1])
    # auto never picks a foundation model it was not asked for
    assert forecast(t, y, 6, registry=reg).chosen_model in AUTO_CANDIDATES


def test_foundation_weights_dir_must_exist(tmp_path):
    env = {"AW_FAKE_CHECKPOINT": str(tmp_path / "missing")}
    reg = ModelRegistry(env, foundation=[_fake_foundation(env, [])])
    info = {m.name: m for m in reg.list_models()}["fake-fm"]
    assert not info.available and "not a directory" in info.reason_if_unavailable
    t, y = hourly(24 * 5)
    with pytest.raises(ModelUnavailable, match="available models: auto"):
        forecast(t, y, 6, model="fake-fm", registry=reg)


def test_library_failure_is_a_typed_error(monkeypatch):
    from services.forecast import models
    from services.forecast.errors import ModelFailed

    def boom(seasons):
        raise np.linalg.LinAlgError("singular")

    spec = models.StatsModel("ets", "x", boom)
    reg = ModelRegistry({})
    monkeypatch.setitem(reg._stats, "ets", spec)
    t, y = hourly(100)
    with pytest.raises(ModelFailed) as err:
        forecast(t, y, 5, model="ets", registry=reg)
    assert err.value.code == "INTERNAL_ERROR" and "LinAlgError" in str(err.value)

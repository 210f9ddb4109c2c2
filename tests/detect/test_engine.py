"""Behaviour of DetectionEngine: detection, config fields, episodes, streaming, snapshots."""
from __future__ import annotations

import numpy as np
import pytest

from services.detect import codes
from services.detect.engine import DetectionEngine, DetectorConfig
from services.detect.kernels import state as state_mod

T0 = 1_700_000_000.0


def noisy(n: int, seed: int = 0, step: float = 60.0, level: float = 100.0, sd: float = 2.0):
    rng = np.random.default_rng(seed)
    return T0 + step * np.arange(n), level + sd * rng.standard_normal(n)


def run(xs, ts=None, config: DetectorConfig | None = None, engine: DetectionEngine | None = None,
        sid: str = "s"):
    engine = engine or DetectionEngine()
    if ts is None:
        ts = T0 + 60.0 * np.arange(len(xs))
    return engine.score([sid] * len(xs), ts, xs, {sid: config or DetectorConfig.default()})


def test_spike_and_drop_detected_with_their_type():
    ts, xs = noisy(3000)
    xs[2000] += 40.0
    xs[2500] -= 40.0
    b = run(xs, ts)
    assert b.type[2000] == codes.TYPE_SPIKE and b.severity[2000] > 0
    assert b.type[2500] == codes.TYPE_DROP and b.severity[2500] > 0
    assert b.type_names()[2000] == "spike" and b.severity_names()[2500] in ("info", "warning", "critical")
    assert b.score[2000] > 0.99 and b.score[2500] > 0.99
    assert b.lower[2000] < b.mean[2000] < b.upper[2000]


def test_normal_series_rarely_scores_099():
    for seed, scale in ((1, 1e-3), (2, 1.0), (3, 1e5)):
        ts, xs = noisy(20000, seed=seed, sd=scale, level=10 * scale)
        b = run(xs, ts)
        assert np.mean(b.score[200:] >= 0.99) < 0.001
        assert (b.severity[200:] > 0).sum() <= 3


def test_learning_flag_follows_min_data_points():
    ts, xs = noisy(300)
    xs[50] += 100.0                      # would be a spike, but the series is learning
    for m in (10, 100):
        b = run(xs, ts, DetectorConfig(min_data_points=m))
        assert b.learning[:m].all() and not b.learning[m:].any()       # the m-th is still learning
        assert (b.severity[:m] == 0).all() and (b.episode_event[:m] == codes.EVENT_NONE).all()


def test_ratio_guards_flag_whatever_the_statistics():
    ts, xs = noisy(1000, sd=2.0)
    xs[900] = 106.0                      # ~3 sd: not statistically anomalous at low sensitivity
    xs[950] = 94.0
    plain = run(xs, ts, DetectorConfig(sensitivity="low"))
    assert plain.severity[900] == 0 and plain.severity[950] == 0
    guarded = run(xs, ts, DetectorConfig(sensitivity="low", spike_threshold=1.05, drop_threshold=0.95))
    assert guarded.type[900] == codes.TYPE_SPIKE and guarded.severity[900] >= codes.SEVERITY_WARNING
    assert guarded.type[950] == codes.TYPE_DROP and guarded.severity[950] >= codes.SEVERITY_WARNING
    # no guard when the baseline is not positive
    neg = run(-xs, ts, DetectorConfig(sensitivity="low", spike_threshold=1.05, drop_threshold=0.95))
    assert neg.severity[900] == 0


def test_disabled_series_scores_but_raises_nothing():
    ts, xs = noisy(2000)
    xs[1500] += 50.0
    b = run(xs, ts, DetectorConfig(enabled=False))
    assert b.score[1500] > 0.99
    assert (b.severity == 0).all() and (b.type == 0).all() and (b.episode_event == 0).all()


def test_sensitivity_orders_the_number_of_anomalies():
    rng = np.random.default_rng(7)
    ts, xs = noisy(8000, seed=7)
    xs += rng.standard_t(3, 8000)                    # heavy tails: many borderline points
    counts = {s: int((run(xs, ts, DetectorConfig(sensitivity=s)).severity > 0).sum())
              for s in ("low", "medium", "high")}
    assert counts["low"] < counts["medium"] < counts["high"], counts


def daily_series(days: int, step: float = 300.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    ts = T0 + step * np.arange(int(days * 86400 / step))
    hour = (ts % 86400) / 3600
    xs = 50 + 30 * np.exp(-0.5 * ((hour - 13) / 2.5) ** 2) + rng.standard_normal(ts.size)
    return ts, xs


def test_daily_seasonality_beats_none_on_a_daily_series():
    ts, xs = daily_series(8)
    late = ts >= T0 + 4 * 86400
    err = {}
    for seas in ("none", "daily", "auto"):
        b = run(xs, ts, DetectorConfig(seasonality=seas))
        err[seas] = float(np.mean(np.abs(xs - b.mean)[late]))
    assert err["daily"] < 0.8 * err["none"], err
    assert err["auto"] < 0.8 * err["none"], err


def test_auto_seasonality_does_not_hurt_a_flat_series():
    ts, xs = noisy(12 * 288, step=300.0, seed=3)
    auto = run(xs, ts, DetectorConfig(seasonality="auto"))
    none = run(xs, ts, DetectorConfig(seasonality="none"))
    assert (auto.severity > 0).sum() <= (none.severity > 0).sum() + 2
    assert np.mean(np.abs(xs - auto.mean)[500:]) <= 1.05 * np.mean(np.abs(xs - none.mean)[500:])


def test_comparison_window_changes_adaptation():
    """After a lasting variance increase, a 1h window re-learns the spread sooner than a 30d one."""
    ts, xs = noisy(6000, seed=5)
    rng = np.random.default_rng(6)
    xs[3000:] = 100 + 8.0 * rng.standard_normal(3000)
    short = run(xs, ts, DetectorConfig(comparison_window_seconds=3600.0))
    long = run(xs, ts, DetectorConfig(comparison_window_seconds=30 * 86400.0))
    new_sd = 8.0

    def first_adapted(b):
        return int(np.argmax(b.std[3000:] > 0.8 * new_sd))

    assert 0 < first_adapted(short) < 0.5 * first_adapted(long)


def test_episode_opens_continues_goes_quiet_and_closes():
    ts, xs = noisy(1000)
    xs[600:603] += 60.0                            # three anomalous points in a row
    b = run(xs, ts)
    ev = b.event_names()
    assert ev[600:603] == ["open", "continue", "continue"]
    close = next(i for i in range(603, 1000) if ev[i] == "close")
    assert all(e in ("quiet", "continue") for e in ev[603:close])
    first_normal = max(i for i in range(600, close) if b.severity[i] > 0) + 1
    assert b.episode_end_ts[close] == ts[first_normal]
    assert b.episode_peak_score[close] == pytest.approx(b.score[600:close].max())
    assert np.isnan(b.episode_end_ts[:close]).all()


def test_streaming_past_scores_never_change_and_batches_agree():
    ts, xs = daily_series(3, step=60.0, seed=2)
    full = run(xs, ts)
    prefix = run(xs[:2000], ts[:2000])
    np.testing.assert_array_equal(full.score[:2000], prefix.score)
    eng = DetectionEngine()
    parts = [run(xs[a:b], ts[a:b], engine=eng) for a, b in ((0, 1), (1, 777), (777, len(xs)))]
    np.testing.assert_array_equal(np.concatenate([p.score for p in parts]), full.score)
    np.testing.assert_array_equal(np.concatenate([p.mean for p in parts]), full.mean)


def test_snapshot_restore_gives_identical_scores():
    ts, xs = daily_series(4, step=300.0, seed=4)
    a = DetectionEngine()
    run(xs[:600], ts[:600], engine=a)
    blob = a.snapshot("s")
    assert blob[:4] == b"AWDS" and len(blob) < 2048
    b = DetectionEngine(capacity=1)
    b.restore("other", blob)
    rest_a = run(xs[600:], ts[600:], engine=a)
    rest_b = run(xs[600:], ts[600:], engine=b, sid="other")
    for name in ("score", "mean", "std", "lower", "upper", "type", "severity", "episode_event"):
        np.testing.assert_array_equal(getattr(rest_a, name), getattr(rest_b, name), err_msg=name)
    with pytest.raises(ValueError):
        b.restore("x", blob[:-1])
    with pytest.raises(ValueError):
        b.restore("x", b"NOPE" + blob[4:])


@pytest.mark.parametrize("spoil", [("scalars", 20, np.nan), ("profiles", 3, np.inf)])
def test_a_snapshot_with_non_finite_state_is_unusable(spoil):
    """Written before the kernel capped huge values, such a state never scored again: the shard
    rebuilds the series from its stored points instead (ValueError, as for any unusable one)."""
    a = DetectionEngine()
    run(noisy(100)[1], engine=a)
    blob = bytearray(a.snapshot("s"))
    size = state_mod.RECORD_DTYPE.itemsize
    rec = np.frombuffer(blob, dtype=state_mod.RECORD_DTYPE, count=1, offset=len(blob) - size)
    field, index, value = spoil
    rec[0][field][index] = value
    b = DetectionEngine()
    with pytest.raises(ValueError, match="non-finite"):
        b.restore("s", bytes(blob))
    assert b.last_timestamp("s") is None


def test_restoring_more_series_than_the_capacity_grows_the_state():
    # a detect restart restores every checkpoint: past the initial capacity the arrays grow
    ts, xs = noisy(200, seed=3)
    a = DetectionEngine()
    run(xs[:150], ts[:150], engine=a)
    blob = a.snapshot("s")
    b = DetectionEngine(capacity=2)
    for i in range(5):
        b.restore(f"s{i}", blob)
    rest_a = run(xs[150:], ts[150:], engine=a)
    for i in range(5):
        rest_b = run(xs[150:], ts[150:], engine=b, sid=f"s{i}")
        np.testing.assert_array_equal(rest_a.score, rest_b.score)
        assert b.point_count(f"s{i}") == a.point_count("s")


def test_scale_invariance():
    ts, xs = daily_series(3, step=300.0, seed=8)
    xs[700] += 15.0
    b1 = run(xs, ts)
    b2 = run(1000.0 * xs + 5.0, ts)
    np.testing.assert_allclose(b1.score, b2.score, atol=1e-5)
    np.testing.assert_array_equal(b1.severity, b2.severity)
    np.testing.assert_allclose(1000.0 * b1.mean + 5.0, b2.mean, rtol=1e-6)


def test_constant_series_then_a_change():
    xs = np.full(500, 42.0)
    xs[400] = 42.5
    b = run(xs)
    assert (b.severity[:400] == 0).all()
    assert b.severity[400] > 0 and b.type[400] == codes.TYPE_SPIKE


def test_low_count_poisson_is_not_flooded():
    rng = np.random.default_rng(9)
    xs = rng.poisson(0.2, 20000).astype(float)
    b = run(xs)
    assert (b.severity > 0).sum() <= 20
    xs[15000] = 25.0
    assert run(xs).severity[15000] > 0


def test_scores_keep_resolution_near_one():
    ts, xs = noisy(1000)
    xs[800] += 1e3
    xs[900] += 1e5
    b = run(xs, ts)
    assert 0.99 < b.score[800] < b.score[900] < 1.0
    assert ((b.score >= 0.0) & (b.score <= 1.0)).all()


def test_skips_points_at_or_before_the_last_timestamp():
    eng = DetectionEngine()
    ts, xs = noisy(300)
    run(xs, ts, engine=eng)
    before = eng.snapshot("s")
    again = run(xs[-5:], ts[-5:], engine=eng)
    assert again.skipped.all()
    assert eng.snapshot("s") == before
    assert eng.last_timestamp("s") == ts[-1] and eng.point_count("s") == 300


def test_engine_bookkeeping_and_growth():
    eng = DetectionEngine(capacity=2)
    ids = [f"s{i}" for i in range(5)] * 3
    ts = np.repeat(T0 + 60.0 * np.arange(3), 5)
    b = eng.score(ids, ts, np.arange(15.0), {})
    assert len(b) == 15 and sorted(eng.series_ids()) == [f"s{i}" for i in range(5)]
    assert eng.point_count("s3") == 3 and eng.last_timestamp("nope") is None
    eng.forget("s3")
    assert "s3" not in eng.series_ids() and eng.point_count("s3") == 0
    assert eng.state_bytes_per_series() <= 2048
    eng.warm_up()


def test_config_is_validated():
    with pytest.raises(ValueError):
        DetectorConfig(spike_threshold=1.0)
    with pytest.raises(ValueError):
        DetectorConfig(drop_threshold=1.0)
    with pytest.raises(ValueError):
        DetectorConfig(sensitivity="extreme")
    with pytest.raises(ValueError):
        DetectorConfig(seasonality="hourly")


def test_put_back_undoes_a_batch_exactly():
    """What the shard does when catalog did not take a batch's episode events: the states are as
    before it (a series new in it is forgotten), so scoring the batch again gives the same scores."""
    rng = np.random.default_rng(5)
    ts, xs = 60.0 * np.arange(400), rng.normal(10, 1, 400)
    engine = DetectionEngine(capacity=1)
    engine.score(["a"] * 300, ts[:300], xs[:300], {})
    saved = engine.saved_states(["a", "new"])
    first = engine.score(["a"] * 100 + ["new"] * 100, np.r_[ts[300:], ts[:100]],
                         np.r_[xs[300:], xs[:100]], {})  # "new" grows the state arrays
    engine.put_back(saved)
    assert (engine.point_count("a"), "new" in engine.series_ids()) == (300, False)
    again = engine.score(["a"] * 100, ts[300:], xs[300:], {})
    np.testing.assert_array_equal(again.score, first.score[:100])

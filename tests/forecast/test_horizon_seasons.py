import pytest

from services.forecast.errors import InvalidConfidence, InvalidHorizon
from services.forecast.horizon import MAX_HORIZON_STEPS, check_confidence, horizon_steps, read_horizon
from services.forecast.seasons import choose_seasons, natural_seasons


@pytest.mark.parametrize("horizon,step,steps", [
    ("30m", 60, 30), ("24h", 3600, 24), ("7d", 3600, 168), ("90s", 60, 2), ("2w", 86400, 14),
    ("1.5h", 3600, 2), ("30m", 3600, 1), (12, 60, 12), ("12", 60, 12), ("24H", 3600, 24),
    ("25h", 7200, 13), (5000, 1, 5000),
])
def test_horizon_steps_rounded_up(horizon, step, steps):
    assert horizon_steps(read_horizon(horizon), step) == steps


@pytest.mark.parametrize("bad", ["0", 0, -3, "3x", "h", "", "1e3", True, "-5m", "0s", None, "1.5",
                                 "\u0663", "\u0663h", "\uff148", "2\u0660m"])
def test_bad_horizons(bad):
    with pytest.raises(InvalidHorizon):
        horizon_steps(read_horizon(bad), 60)


@pytest.mark.parametrize("huge", ["1" * 400 + "d", "9" * 5000, "1" * 400 + ".5s", "1" * 33])
def test_a_horizon_of_absurd_length_is_refused_not_crashed(huge):
    with pytest.raises(InvalidHorizon, match="characters long") as err:
        horizon_steps(read_horizon(huge), 60)
    assert len(str(err.value)) < 200


def test_horizon_cap():
    assert horizon_steps(read_horizon(f"{MAX_HORIZON_STEPS}m"), 60) == MAX_HORIZON_STEPS
    with pytest.raises(InvalidHorizon, match="5000"):
        horizon_steps(read_horizon(MAX_HORIZON_STEPS + 1), 60)
    with pytest.raises(InvalidHorizon):
        horizon_steps(read_horizon("7d"), 60)  # 10080 one-minute steps


@pytest.mark.parametrize("ok", [0.5, 0.8, 0.95, 0.999, "0.9"])
def test_confidence_inclusive_bounds(ok):
    assert check_confidence(ok) == float(ok)


@pytest.mark.parametrize("bad", [0.4999, 0.9991, 1.0, 95, float("nan"), "x", None, True])
def test_confidence_out_of_range(bad):
    with pytest.raises(InvalidConfidence):
        check_confidence(bad)


def test_natural_seasons():
    assert natural_seasons(3600) == [24, 168]
    assert natural_seasons(300) == [288, 2016]
    assert natural_seasons(60)[:2] == [60, 1440]
    assert natural_seasons(86400) == [7, 365]
    assert natural_seasons(7 * 86400) == [52]
    assert natural_seasons(31 * 86400) == [12]
    assert natural_seasons(17 * 60)[0] == 85  # 84.7 steps a day, close enough
    assert natural_seasons(38400) == []  # no whole-step cycle


def test_seasons_need_two_cycles_of_history():
    assert choose_seasons(3600, 47) == []
    assert choose_seasons(3600, 48) == [24]
    assert choose_seasons(3600, 335) == [24]
    assert choose_seasons(3600, 700) == [24, 168]
    assert choose_seasons(300, 3000) == [288]
    assert choose_seasons(300, 4032) == [288, 2016]
    assert choose_seasons(60, 3000) == [60, 1440]

"""Durations in the environment are finite seconds: anything else stops the process at start with
the variable named, instead of a timer that spins, never fires, or a cache that never expires."""
from __future__ import annotations

import pytest

from services.common.config import Settings, load_settings

DURATIONS = {"AW_SHUTDOWN_GRACE": "shutdown_grace_seconds",
             "AW_CHECKPOINT_INTERVAL": "checkpoint_interval_seconds",
             "AW_STALENESS_CHECK": "staleness_check_seconds", "AW_CATCH_UP_CHECK": "catch_up_check_seconds",
             "AW_PROGRESS_FLUSH": "progress_flush_seconds", "AW_RPC_TIMEOUT": "rpc_timeout_seconds",
             "AW_KEY_CACHE_SECONDS": "key_cache_seconds"}
MAY_BE_ZERO = {"AW_SHUTDOWN_GRACE", "AW_KEY_CACHE_SECONDS"}


@pytest.mark.parametrize("name", sorted(DURATIONS))
@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "-1", "ten", "", "1e999"])
def test_a_duration_that_is_not_finite_seconds_is_refused_naming_it(name, raw):
    with pytest.raises(ValueError, match=name):
        load_settings({name: raw})


@pytest.mark.parametrize("name", sorted(DURATIONS))
def test_zero_is_taken_only_where_it_means_something(name):
    if name in MAY_BE_ZERO:
        assert getattr(load_settings({name: "0"}), DURATIONS[name]) == 0.0
    else:
        with pytest.raises(ValueError, match=name):
            load_settings({name: "0"})


@pytest.mark.parametrize("name", sorted(DURATIONS))
def test_a_finite_duration_is_taken_and_an_unset_one_is_the_default(name):
    field = DURATIONS[name]
    assert getattr(load_settings({name: "0.25"}), field) == 0.25
    assert getattr(load_settings({}), field) == getattr(Settings, field)


@pytest.mark.parametrize("plans", [
    '{"free": {"per_minute": 10, "burst_per_second": 2, "max_series": "100"}}',
    '{"free": {"per_minute": 10, "burst_per_second": 2, "max_series": 1.5}}',
    '{"free": {"per_minute": 10, "burst_per_second": 2, "max_series": -1}}',
    '{"free": {"per_minute": 10, "burst_per_second": 2, "max_series": true}}',
    '{"free": {"per_minute": 10, "burst_per_second": 2}}',
    '{"free": {"per_minute": 10, "burst_per_second": 2, "max_series": 5, "extra": 1}}',
    '{"free": [10, 2, 5]}', '[1, 2]', '{"free": ', '"free"'])
def test_a_plan_that_is_not_three_limits_with_a_whole_quota_is_refused_at_start(plans):
    with pytest.raises(ValueError, match="AW_PLANS"):
        load_settings({"AW_PLANS": plans})


@pytest.mark.parametrize("quota", [0, 7, None])
def test_a_plan_quota_of_a_whole_number_or_none_is_taken(quota):
    import json
    plans = json.dumps({"free": {"per_minute": 10, "burst_per_second": 2, "max_series": quota}})
    assert load_settings({"AW_PLANS": plans}).plans["free"].max_series == quota


@pytest.mark.parametrize("raw", ["-1", "1.5", "one", "", " ", "11", "1e1", "+1", "1_0", "\u0661", "0x1",
                                 "9" * 5000])
def test_trusted_proxy_hops_that_are_not_a_whole_number_from_0_to_10_are_refused_naming_it(raw):
    with pytest.raises(ValueError, match="AW_TRUSTED_PROXY_HOPS"):
        load_settings({"AW_TRUSTED_PROXY_HOPS": raw})


@pytest.mark.parametrize(("raw", "hops"), [("0", 0), ("1", 1), (" 2 ", 2), ("10", 10)])
def test_trusted_proxy_hops_are_taken_and_unset_is_zero(raw, hops):
    assert load_settings({"AW_TRUSTED_PROXY_HOPS": raw}).trusted_proxy_hops == hops
    assert load_settings({}).trusted_proxy_hops == 0


@pytest.mark.parametrize("hops", [-1, 11, 1.0, True, "1", None])
def test_trusted_proxy_hops_built_in_code_are_checked_too(hops):
    with pytest.raises(ValueError, match="AW_TRUSTED_PROXY_HOPS"):
        Settings(trusted_proxy_hops=hops)

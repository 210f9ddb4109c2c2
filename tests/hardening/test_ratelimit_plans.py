"""Rate-limit audit: plan limits that cannot be counted are refused when the gateway starts,
instead of refusing every request, counting 1.5 as 1, or failing every Redis call of the plan."""
from __future__ import annotations

import pytest

from services.common.config import PlanLimits
from tests.ratelimit.conftest import PLANS, make_app


@pytest.mark.parametrize("field", ["per_minute", "burst_per_second"])
@pytest.mark.parametrize("value", [0, -5, 1.5, "100", True, None, 10**30])
def test_a_plan_limit_that_is_not_a_whole_number_from_1_is_refused_at_start(field, value):
    limits = {"per_minute": 100, "burst_per_second": 5, "max_series": 10, field: value}
    with pytest.raises(ValueError, match=rf"AW_PLANS: odd\.{field} must be a whole number"):
        make_app(plans={**PLANS, "odd": PlanLimits(**limits)})


def test_the_largest_whole_limits_are_accepted():
    app, keys = make_app(plans={**PLANS, "big": PlanLimits(1_000_000_000, 1_000_000_000, None)})
    key, _ = keys.add(plan="big")
    answer = app.test_client().get("/v1/_probe", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "999999999"

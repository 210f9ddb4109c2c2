"""Horizon and confidence validation.

A horizon is either a positive whole number of steps (an int, or a string of digits) or a
duration: a positive number followed by a unit, `s` (seconds), `m` (minutes), `h` (hours),
`d` (days) or `w` (weeks), e.g. `90s`, `30m`, `24h`, `1.5h`, `7d`, `2w`. A duration that is not a
whole number of steps is rounded up. At most `MAX_HORIZON_STEPS` steps.
"""
from __future__ import annotations

import math
import re
from typing import NamedTuple

from services.common.durations import DURATION, UNIT_SECONDS
from services.common.timeutil import LATEST
from services.forecast.errors import InvalidConfidence, InvalidHorizon

MAX_HORIZON_STEPS = 5_000
MIN_CONFIDENCE = 0.5
MAX_CONFIDENCE = 0.999
_STEPS = re.compile(r"\s*(\d+)\s*", re.ASCII)
MAX_HORIZON_CHARS = 32  # far more than any horizon under the cap needs; longer text is not parsed


class Horizon(NamedTuple):
    """A horizon as asked for: a number of steps, or a duration in seconds (the other is None)."""
    asked: str | int
    steps: int | None
    seconds: float | None


def read_horizon(horizon: str | int | float) -> Horizon:
    """A horizon's form, checked without the series (so a malformed one is refused before any
    history is read): a positive number of steps or a positive duration."""
    if isinstance(horizon, bool):
        raise InvalidHorizon("horizon must be a duration like '24h' or a number of steps")
    if isinstance(horizon, float) and horizon.is_integer():
        horizon = int(horizon)
    if isinstance(horizon, str) and len(horizon) > MAX_HORIZON_CHARS:
        # thousands of digits would overflow the float or exceed Python's int conversion limit
        raise InvalidHorizon(f"horizon is {len(horizon)} characters long; give at most "
                             f"{MAX_HORIZON_STEPS} steps or a duration such as '24h'")
    if isinstance(horizon, int):
        read = Horizon(horizon, horizon, None)
    elif isinstance(horizon, str) and _STEPS.fullmatch(horizon):
        read = Horizon(horizon, int(horizon), None)
    elif isinstance(horizon, str) and (m := DURATION.fullmatch(horizon.lower())) and m.group(2):
        read = Horizon(horizon, None, float(m.group(1)) * UNIT_SECONDS[m.group(2)])
    else:
        raise InvalidHorizon(
            f"horizon {horizon!r} is not understood: use a number of steps or a duration such as "
            "'90s', '30m', '24h', '7d' or '2w'"
        )
    if (read.steps if read.seconds is None else read.seconds) <= 0:
        raise InvalidHorizon(f"horizon {horizon!r} must cover at least one step")
    return read


def horizon_steps(horizon: Horizon, step_seconds: float) -> int:
    """The number of grid steps a horizon covers (rounded up), checked against the cap."""
    if horizon.seconds is None:
        steps = horizon.steps
    else:
        # a hair of tolerance so that 24h on a 3600.0000001 s grid is still 24 steps
        steps = math.ceil(horizon.seconds / step_seconds - 1e-9)
    if steps < 1:
        raise InvalidHorizon(f"horizon {horizon.asked!r} must cover at least one step")
    if steps > MAX_HORIZON_STEPS:
        raise InvalidHorizon(
            f"horizon {horizon.asked!r} is {steps} steps of {step_seconds:g} s; at most "
            f"{MAX_HORIZON_STEPS} steps are allowed"
        )
    return steps


def check_reach(horizon: Horizon, steps: int, last_timestamp: float, step_seconds: float) -> None:
    """The forecast's last time must be one a timestamp can hold (up to 9999-12-31T23:59:59Z):
    past it no answer could be written, so the horizon is refused instead."""
    if last_timestamp + steps * step_seconds > LATEST:
        raise InvalidHorizon(f"horizon {horizon.asked!r} ({steps} steps of {step_seconds:g} s) runs past "
                             "9999-12-31T23:59:59Z, the last time a timestamp holds; ask for fewer steps")


def check_confidence(confidence: float) -> float:
    """The confidence as a float, if it lies in [0.5, 0.999] (both inclusive)."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise InvalidConfidence(f"confidence {confidence!r} is not a number") from None
    if isinstance(confidence, bool) or not (MIN_CONFIDENCE <= c <= MAX_CONFIDENCE):
        raise InvalidConfidence(
            f"confidence must be between {MIN_CONFIDENCE} and {MAX_CONFIDENCE} inclusive, "
            f"got {confidence!r}"
        )
    return c

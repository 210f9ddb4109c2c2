"""Integer codes shared by the detection kernels and their Python wrappers.

Kernels take and return small integers, never strings; this module is the one place that names
them. Pure: no numba, no numpy.
"""
from __future__ import annotations

# anomaly type of a point (0 = normal)
TYPE_NONE, TYPE_SPIKE, TYPE_DROP, TYPE_TREND, TYPE_LEVEL_SHIFT = 0, 1, 2, 3, 4
TYPE_NAMES: tuple[str | None, ...] = (None, "spike", "drop", "trend", "level_shift")

# severity of a point (0 = normal)
SEVERITY_NONE, SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL = 0, 1, 2, 3
SEVERITY_NAMES: tuple[str | None, ...] = (None, "info", "warning", "critical")

# episode event of a point
EVENT_NONE, EVENT_OPEN, EVENT_CONTINUE, EVENT_QUIET, EVENT_CLOSE = 0, 1, 2, 3, 4
EVENT_NAMES: tuple[str, ...] = ("none", "open", "continue", "quiet", "close")

# anomaly_config.sensitivity
SENSITIVITY_LOW, SENSITIVITY_MEDIUM, SENSITIVITY_HIGH = 0, 1, 2
SENSITIVITY_NAMES: tuple[str, ...] = ("low", "medium", "high")

# anomaly_config.seasonality; also the seasonal model a series currently uses (none/daily/weekly)
SEASONALITY_NONE, SEASONALITY_DAILY, SEASONALITY_WEEKLY, SEASONALITY_AUTO = 0, 1, 2, 3
SEASONALITY_NAMES: tuple[str, ...] = ("none", "daily", "weekly", "auto")


def code_of(names: tuple[str | None, ...], name: str) -> int:
    """The code of `name` in one of the tables above; ValueError naming the choices otherwise."""
    try:
        return names.index(name.lower())
    except ValueError:
        choices = ", ".join(n for n in names if n)
        raise ValueError(f"unknown value {name!r}; expected one of {choices}") from None


def sensitivity_code(name: str) -> int:
    return code_of(SENSITIVITY_NAMES, name)


def seasonality_code(name: str) -> int:
    return code_of(SEASONALITY_NAMES, name)

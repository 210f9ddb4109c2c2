"""Whether a threshold rule applies to a series and whether a value meets it (pure)."""
from __future__ import annotations

import fnmatch
import operator as op
from collections.abc import Mapping

OPERATORS = {
    "greater_than": op.gt,
    "greater_than_or_equal": op.ge,
    "less_than": op.lt,
    "less_than_or_equal": op.le,
    "equal": op.eq,
    "not_equal": op.ne,
}


def metric_matches(pattern: str, metric: str) -> bool:
    """An exact name, or a glob such as `api.*` (case-sensitive)."""
    if not any(ch in pattern for ch in "*?["):
        return pattern == metric
    return fnmatch.fnmatchcase(metric, pattern)


def scope_matches(scope_tags: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """A tag scope matches a series that has every listed tag with that value; empty = global."""
    return all(tags.get(k) == v for k, v in scope_tags.items())


def value_meets(operator: str, value: float, threshold: float) -> bool:
    return OPERATORS[operator](value, threshold)

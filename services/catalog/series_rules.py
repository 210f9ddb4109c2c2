"""The contract's rules for naming and tagging a series (API.md, Ingest), held by catalog too:
ingest applies them to every point (services/ingest/validation.py, whose constants these are),
but a caller that skips ingest must not store a series no client could name, nor ask a query
with more tag filters than a series has tags."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.common.errors import ServiceError
from services.ingest.validation import MAX_NAME, MAX_TAGS, PointError, check_metric, check_tags

NAME_RULE = f"1-{MAX_NAME} characters of ASCII letters, digits and ._-:/"


def check_metric_name(name: str, field: str, **details) -> str:
    """`name` if ingest would take it as a metric name, else VALIDATION_ERROR naming `field`."""
    try:
        return check_metric(name)
    except PointError:
        raise ServiceError("VALIDATION_ERROR", f"{field} must be {NAME_RULE}",
                           {"field": field, **details}) from None


def check_series_keys(series: Sequence[tuple[str, Mapping[str, str]]]) -> None:
    """Each (metric, tags) of a write names a series a client could have sent."""
    for index, (metric, tags) in enumerate(series):
        check_metric_name(metric, "series.metric", index=index)
        try:
            check_tags(tags)
        except PointError as error:
            raise ServiceError("VALIDATION_ERROR", str(error),
                               {"field": "series.tags", "index": index}) from None


def check_tag_filters(tags: Mapping[str, str]) -> None:
    """More filters than a series has tags match nothing, and each is a term of the query
    (thousands exceed SQLite's expression depth)."""
    if len(tags) > MAX_TAGS:
        raise ServiceError("VALIDATION_ERROR", f"at most {MAX_TAGS} tag filters (a series has at most "
                           f"{MAX_TAGS} tags), got {len(tags)}", {"field": "tags"})

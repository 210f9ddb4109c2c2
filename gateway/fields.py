"""Type checks of JSON fields and query words before they go into protobuf messages: a wrong type
or an unknown word is a 400 naming the field (protobuf would raise TypeError, a 500)."""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import request

from anomalywatch.common.v1 import common_pb2
from gateway import render
from services.common.errors import ServiceError
from services.ingest.validation import storable


def invalid(field: str, message: str, **details: Any) -> ServiceError:
    return ServiceError("VALIDATION_ERROR", message, {"field": field, **details})


def only_known(body: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """Rejects a field the contract does not know (a typo must not be silently ignored)."""
    allowed = list(allowed)
    for name in body:
        if name not in allowed:
            raise invalid(f"{prefix}{name}", f"unknown field {prefix}{name}", allowed=allowed)


PAGE_PARAMS = ("limit", "offset", "page")


def only_known_params(allowed: Iterable[str], tags: bool = False) -> None:
    """Rejects an unknown query parameter, and one given twice: every parameter has one value (a
    route reads the first), so `limit=1&limit=2` or `tag.env=a&tag.env=b` would silently drop the
    rest. `tag.<key>` is allowed when `tags` is true."""
    allowed = list(allowed)
    seen: set[str] = set()
    for name, value in request.args.items(multi=True):
        if not (name in allowed or tags and name.startswith("tag.") and len(name) > 4):
            raise invalid(name, f"unknown query parameter {name}",
                          allowed=[*allowed, *(["tag.<key>"] if tags else [])])
        if name in seen:
            raise invalid(name, f"query parameter {name} is given more than once; give it once")
        seen.add(name)
        string(value, name)


def path_id(value: str, field: str) -> str:
    """An id from the path; one no store could hold cannot exist (werkzeug already decoded it)."""
    return string(value, field)


def string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise invalid(field, f"{field} must be a string")
    if not storable(value):
        raise invalid(field, f"{field} must be valid UTF-8 without NUL characters")
    return value


def number(value: Any, field: str) -> float:
    """A finite JSON number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(field, f"{field} must be a number")
    try:
        as_float = float(value)
    except OverflowError:
        raise invalid(field, f"{field} is out of range") from None
    if not math.isfinite(as_float):
        raise invalid(field, f"{field} must be a finite number")
    return as_float


# Plain ASCII decimal. Not str.isdigit() or int(): between them they take '²' (then fail on it, a
# 500), other scripts' digits ('٣'), '+5', '1_0' and surrounding whitespace.
_DECIMAL = re.compile(r"-?[0-9]+")


def integer(text: Any, field: str, minimum: int | None = 0, maximum: int | None = None) -> int:
    """A whole number written in ASCII digits, with a leading minus only where `minimum` allows a
    negative; every integer query parameter (and a horizon in steps) is read here."""
    if minimum is None:
        expected = f"{field} must be an integer (digits 0-9, an optional leading minus)"
    elif minimum in (0, 1):
        expected = f"{field} must be a {('non-negative', 'positive')[minimum]} integer (digits 0-9)"
    else:
        expected = f"{field} must be an integer of at least {minimum} (digits 0-9)"
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise invalid(field, expected)
    try:
        value = int(text)
    except ValueError:  # more digits than Python converts (4300); no request line holds that many
        raise invalid(field, f"{field} has too many digits") from None
    if minimum is not None and value < minimum:
        raise invalid(field, expected)
    if maximum is not None and value > maximum:
        raise invalid(field, f"{field} is too large (at most {maximum})")
    return value


def query_integer(name: str, minimum: int | None = 0, maximum: int | None = None) -> int | None:
    """An integer query parameter (see `integer`); absent or empty is None."""
    raw = request.args.get(name)
    return None if raw is None or raw == "" else integer(raw, name, minimum, maximum)


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(field, f"{field} must be true or false")
    return value


def string_map(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(field, f"{field} must be an object of string values")
    if not all(storable(k) and storable(v) for k, v in value.items()):
        raise invalid(field, f"{field} must be valid UTF-8 without NUL characters")
    return value


def one_of(value: Any, field: str, allowed: Iterable[str]) -> str:
    """A word of a vocabulary; anything else (the empty string too) names the allowed ones."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise invalid(field, f"unknown {field} {value!r}", allowed=allowed)
    return value


def word(value: Any, field: str, table: Mapping[str, int]) -> int:
    """The enum value of a vocabulary word; an unknown word names the allowed ones."""
    return table[one_of(value, field, table)]


def query_word(name: str, table: Mapping[str, int]) -> int:
    """A query parameter from a vocabulary; absent or empty is 0 (the protos' unspecified)."""
    raw = request.args.get(name, "")
    return word(raw, name, table) if raw else 0


# The contract's vocabularies as protobuf enum values (the inverses of gateway.render's tables).
# MeshAI's severities low/medium/high are accepted as info/warning/critical.
SEVERITY_WORDS = {**{name: code for code, name in render.SEVERITY.items()},
                  "low": common_pb2.SEVERITY_INFO, "medium": common_pb2.SEVERITY_WARNING,
                  "high": common_pb2.SEVERITY_CRITICAL}
TYPE_WORDS = {name: code for code, name in render.ANOMALY_TYPE.items()}
# Stored as text; the proto's empty string means "none given", so "" is never a root cause.
ROOT_CAUSES = ("marketing_campaign", "deployment", "external_service", "expected_behavior", "bug",
               "infrastructure", "other")
